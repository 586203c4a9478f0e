"""ReplicaManager (in process, real files, trio): follows the image, appends
with acks 0/1/all, group-committed durability, the one fetch path, idempotent
duplicates, deletes. Followers are simulated by calling fetch() with their
replica id and durable log end, the way the peer fetch handler does."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import trio

from rafka.broker.metadata import records as r
from rafka.broker.metadata.records import encode_records
from rafka.broker.metadata.state_machine import MetadataStateMachine
from rafka.broker.replica.manager import ReplicaManager
from rafka.broker.replica.settings import ReplicaConfig
from rafka.broker.replica.types import FetchPartition
from rafka.log.batch import parse_header
from rafka.log.records import Record, build_batch, decode_batch
from rafka.netproto.errors import ErrorCode, RafkaError

DEADLINE_S = 10


class Meta:
    def __init__(self) -> None:
        self.sm = MetadataStateMachine()
        self.offset = 0

    def apply(self, *recs) -> None:
        self.offset += 1
        self.sm.apply(SimpleNamespace(kind=0, index=self.offset, data=encode_records(list(recs))))


def cluster(meta: Meta, *, rf_isr=((1,), (1,)), configs=()):
    meta.apply(*[r.RegisterBrokerRecord(n, f"i{n}", n, "h", 1, None, False) for n in (1, 2, 3)])
    replicas, isr = rf_isr
    recs = [r.TopicRecord("t", "T1"), r.PartitionRecord("T1", 0, replicas, isr, replicas[0])]
    recs += [r.ConfigRecord("t", k, v) for k, v in configs]
    meta.apply(*recs)


def batch(n=2, **kw) -> bytes:
    return build_batch([Record(b"k", b"v%d" % i) for i in range(n)], timestamp_ms=1000, **kw)


async def wait_until(pred, what: str):
    with trio.fail_after(DEADLINE_S):
        while not pred():
            await trio.sleep(0.01)  # wait-ok: a poll bounded by fail_after


@pytest.fixture
async def started(tmp_path, nursery):
    async def start(meta: Meta, node_id=1, **cfg):
        rm = ReplicaManager(node_id, [tmp_path / f"n{node_id}"], meta.sm, ReplicaConfig(**cfg))
        await nursery.start(rm.run)
        return rm
    return start


async def code_of(coro) -> ErrorCode:
    with pytest.raises(RafkaError) as e:
        await coro
    return e.value.code


async def test_single_replica_append_all_then_consume(started, tmp_path):
    """Goal: acks=all on rf 1 returns once durable; a consumer sees the batch with offsets and epoch stamped."""
    meta = Meta()
    cluster(meta)
    rm = await started(meta)
    assert (tmp_path / "n1" / "t-0").is_dir()
    res = await rm.append("t", 0, batch(3), acks=-1, timeout_s=DEADLINE_S)
    assert (res.base_offset, res.last_offset) == (0, 2)
    res = await rm.append("t", 0, batch(2), acks=-1, timeout_s=DEADLINE_S)
    assert (res.base_offset, res.last_offset) == (3, 4)
    p = rm.partition("t", 0)
    assert p.durable_offset >= 5 and p.high_watermark == 5
    [out] = await rm.fetch([FetchPartition("t", 0, 0, 1 << 20)])
    assert out.error_code == 0 and out.high_watermark == 5
    h, recs = decode_batch(out.records)
    assert h.base_offset == 0 and h.partition_leader_epoch == 0 and len(recs) == 3
    [out] = await rm.fetch([FetchPartition("t", 0, 6, 1 << 20)])
    assert out.error_code == ErrorCode.OFFSET_OUT_OF_RANGE


async def test_acks_all_waits_for_isr_follower_durable_end(started):
    """Goal: with a 2-replica ISR, acks=all returns only after the follower reports the offset durable;
    consumers see nothing above the HW; acks=1 returns at once."""
    meta = Meta()
    cluster(meta, rf_isr=((1, 2), (1, 2)))
    rm = await started(meta)
    assert (await rm.append("t", 0, batch(2), acks=1, timeout_s=1)).base_offset == 0
    assert await code_of(rm.append("t", 0, batch(1), acks=-1, timeout_s=0.2)) == ErrorCode.REQUEST_TIMED_OUT
    [out] = await rm.fetch([FetchPartition("t", 0, 0, 1 << 20)])
    assert out.records == b"" and out.high_watermark == 0
    # the follower reads to the log end
    [out] = await rm.fetch([FetchPartition("t", 0, 0, 1 << 20)], replica_id=2)
    assert [h.base_offset for h in _headers(out.records)] == [0, 2]
    results = {}

    async def produce():
        results["r"] = await rm.append("t", 0, batch(1), acks=-1, timeout_s=DEADLINE_S)

    async with trio.open_nursery() as n:
        n.start_soon(produce)
        await wait_until(lambda: rm.partition("t", 0).log.log_end_offset == 4, "appended")
        assert "r" not in results
        await rm.fetch([FetchPartition("t", 0, 4, 1 << 20, durable_log_end_offset=3)], replica_id=2)
        assert "r" not in results and rm.partition("t", 0).high_watermark == 3
        await wait_until(lambda: rm.partition("t", 0).durable_offset == 4, "leader durable")
        await rm.fetch([FetchPartition("t", 0, 4, 1 << 20, durable_log_end_offset=4)], replica_id=2)
    assert results["r"].base_offset == 3
    [out] = await rm.fetch([FetchPartition("t", 0, 0, 1 << 20)])
    assert out.high_watermark == 4 and len(_headers(out.records)) == 3


async def test_min_insync_and_leadership_errors(started):
    """Goal: NOT_ENOUGH_REPLICAS appends nothing; non-leader, unknown partition and epoch errors are Kafka's."""
    meta = Meta()
    cluster(meta, rf_isr=((1, 2), (1,)), configs=[("min.insync.replicas", "2")])
    rm = await started(meta)
    assert await code_of(rm.append("t", 0, batch(), acks=-1, timeout_s=1)) == ErrorCode.NOT_ENOUGH_REPLICAS
    assert rm.partition("t", 0).log.log_end_offset == 0
    assert (await rm.append("t", 0, batch(), acks=1, timeout_s=1)).base_offset == 0
    assert await code_of(rm.append("t", 1, batch(), acks=1, timeout_s=1)) == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert await code_of(rm.append("t", 0, batch(), acks=1, timeout_s=1, leader_epoch=3)) == \
        ErrorCode.UNKNOWN_LEADER_EPOCH
    assert await code_of(rm.append("t", 0, batch(), acks=5, timeout_s=1)) == ErrorCode.INVALID_REQUIRED_ACKS
    # leadership moves to 2: waiters fail, appends are refused, epochs are fenced
    meta.apply(r.PartitionChangeRecord("T1", 0, leader=2, isr=(1, 2)))
    await wait_until(lambda: rm.partition("t", 0).leader is None, "became follower")
    assert await code_of(rm.append("t", 0, batch(), acks=1, timeout_s=1)) == ErrorCode.NOT_LEADER_OR_FOLLOWER
    [out] = await rm.fetch([FetchPartition("t", 0, 0, 1 << 20, current_leader_epoch=0)])
    assert out.error_code == ErrorCode.NOT_LEADER_OR_FOLLOWER
    meta.apply(r.PartitionChangeRecord("T1", 0, leader=1))
    await wait_until(lambda: rm.partition("t", 0).leader is not None, "leader again")
    [out] = await rm.fetch([FetchPartition("t", 0, 0, 1 << 20, current_leader_epoch=1)])
    assert out.error_code == ErrorCode.FENCED_LEADER_EPOCH
    assert rm.partition("t", 0).role.leader_epoch == 2


async def test_idempotent_duplicate_gets_original_offsets(started):
    """Goal: a retried idempotent batch is not appended again and gets its first offsets."""
    meta = Meta()
    cluster(meta)
    rm = await started(meta)
    b0 = batch(2, producer_id=5, producer_epoch=0, base_sequence=0)
    first = await rm.append("t", 0, b0, acks=1, timeout_s=1)
    await rm.append("t", 0, batch(1), acks=1, timeout_s=1)
    again = await rm.append("t", 0, b0, acks=1, timeout_s=1)
    assert again.duplicate and (again.base_offset, again.last_offset) == (first.base_offset, first.last_offset)
    assert rm.partition("t", 0).log.log_end_offset == 3
    gap = batch(1, producer_id=5, producer_epoch=0, base_sequence=7)
    assert await code_of(rm.append("t", 0, gap, acks=1, timeout_s=1)) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER


async def test_acks_all_retry_of_an_unreplicated_batch_still_waits_for_the_hw(started):
    """Goal: an idempotent acks=all batch that timed out unreplicated (an
    isolated leader) and is retried is not acknowledged from the producer
    state alone: the retry also waits for the HW, times out while the
    follower is silent, and succeeds with the original offsets once the
    follower has it durable (jepsen queue seed 101 lost such writes)."""
    meta = Meta()
    cluster(meta, rf_isr=((1, 2), (1, 2)))
    rm = await started(meta)
    b0 = batch(2, producer_id=9, producer_epoch=0, base_sequence=0)
    assert await code_of(rm.append("t", 0, b0, acks=-1, timeout_s=0.2)) == ErrorCode.REQUEST_TIMED_OUT
    assert await code_of(rm.append("t", 0, b0, acks=-1, timeout_s=0.2)) == ErrorCode.REQUEST_TIMED_OUT
    assert rm.partition("t", 0).log.log_end_offset == 2  # appended once
    await wait_until(lambda: rm.partition("t", 0).durable_offset == 2, "leader durable")
    await rm.fetch([FetchPartition("t", 0, 2, 1 << 20, durable_log_end_offset=2)], replica_id=2)
    again = await rm.append("t", 0, b0, acks=-1, timeout_s=DEADLINE_S)
    assert again.duplicate and (again.base_offset, again.last_offset) == (0, 1)


async def test_long_poll_wakes_on_hw_and_respects_min_bytes(started):
    """Goal: a consumer long poll returns when the HW passes new data, before max_wait."""
    meta = Meta()
    cluster(meta)
    rm = await started(meta)
    got = {}

    async def poll():
        got["r"] = await rm.fetch([FetchPartition("t", 0, 0, 1 << 20)], max_wait_ms=60_000, min_bytes=1)

    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as n:
            n.start_soon(poll)
            await trio.sleep(0)  # wait-ok: one scheduler turn: the poll starts first
            assert "r" not in got
            await rm.append("t", 0, batch(1), acks=-1, timeout_s=DEADLINE_S)
    assert len(_headers(got["r"][0].records)) == 1


async def test_max_bytes_at_least_one_batch(started):
    """Goal: max_bytes cuts at whole batches, but the first partition gets at least one batch."""
    meta = Meta()
    cluster(meta)
    rm = await started(meta)
    for _ in range(3):
        await rm.append("t", 0, batch(2), acks=-1, timeout_s=DEADLINE_S)
    size = len(batch(2))
    [out] = await rm.fetch([FetchPartition("t", 0, 0, 1)], max_bytes=1)
    assert len(out.records) == size
    [out] = await rm.fetch([FetchPartition("t", 0, 0, 1 << 20)], max_bytes=2 * size + 1)
    assert len(_headers(out.records)) == 2


async def test_delete_topic_renames_aside_and_removes(started, tmp_path):
    """Goal: a deleted topic stops being served, its dir is renamed at once and removed in the background."""
    meta = Meta()
    cluster(meta)
    rm = await started(meta)
    await rm.append("t", 0, batch(), acks=-1, timeout_s=DEADLINE_S)
    meta.apply(r.RemoveTopicRecord("T1"))
    await wait_until(lambda: not (tmp_path / "n1" / "t-0").exists(), "renamed")
    await wait_until(lambda: not list((tmp_path / "n1").iterdir()), "removed")
    assert await code_of(rm.append("t", 0, batch(), acks=1, timeout_s=1)) == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    # recreated with the same name: starts empty
    meta.apply(r.TopicRecord("t", "T2"), r.PartitionRecord("T2", 0, (1,), (1,), 1))
    await wait_until(lambda: ("t", 0) in rm.by_name, "recreated")
    assert rm.partition("t", 0).log.log_end_offset == 0


async def test_config_alter_applies_live(started):
    """Goal: altering topic configs reaches the open log and the produce checks."""
    meta = Meta()
    cluster(meta)
    rm = await started(meta)
    meta.apply(r.ConfigRecord("t", "segment.bytes", "4096"), r.ConfigRecord("t", "max.message.bytes", "100"))
    await wait_until(lambda: rm.partition("t", 0).log.config.segment_bytes_max == 4096, "segment.bytes")
    assert await code_of(rm.append("t", 0, batch(20), acks=1, timeout_s=1)) == ErrorCode.MESSAGE_TOO_LARGE


async def test_log_append_time(started):
    """Goal: message.timestamp.type=LogAppendTime stamps the batch and reports the time."""
    meta = Meta()
    cluster(meta, configs=[("message.timestamp.type", "LogAppendTime")])
    rm = await started(meta)
    res = await rm.append("t", 0, batch(1), acks=-1, timeout_s=DEADLINE_S)
    assert res.log_append_time_ms > 1000
    [out] = await rm.fetch([FetchPartition("t", 0, 0, 1 << 20)])
    h = parse_header(out.records)
    assert h.timestamp_type == 1 and h.max_timestamp == res.log_append_time_ms


async def test_list_offsets_and_offset_for_leader_epoch(started):
    """Goal: earliest/latest/by-timestamp/max-timestamp and epoch end offsets from the leader."""
    meta = Meta()
    cluster(meta)
    rm = await started(meta)
    await rm.append("t", 0, build_batch([Record(None, b"a")], timestamp_ms=100), acks=-1, timeout_s=DEADLINE_S)
    await rm.append("t", 0, build_batch([Record(None, b"b")], timestamp_ms=300), acks=-1, timeout_s=DEADLINE_S)
    await rm.append("t", 0, build_batch([Record(None, b"c")], timestamp_ms=200), acks=-1, timeout_s=DEADLINE_S)
    assert rm.list_offset("t", 0, -2) == (0, -1)
    assert rm.list_offset("t", 0, -1) == (3, -1)
    assert rm.list_offset("t", 0, 150) == (1, 300)
    assert rm.list_offset("t", 0, -3) == (1, 300)
    assert rm.list_offset("t", 0, 999) == (-1, -1)
    assert rm.offset_for_leader_epoch("t", 0, 0) == (0, 3)


async def test_a_new_leader_epoch_answers_the_log_end_before_any_append(started):
    """Goal: a broker that becomes leader records its epoch at its log end
    (Kafka's leader does), so OffsetForLeaderEpoch for the current epoch
    answers the log end even before anything is appended in that epoch
    (clients ask it after every leader change; `topics describe` reads the
    log end this way)."""
    meta = Meta()
    cluster(meta)
    rm = await started(meta)
    assert rm.offset_for_leader_epoch("t", 0, 0) == (0, 0)  # empty: epoch 0 starts at 0
    await rm.append("t", 0, batch(3), acks=-1, timeout_s=DEADLINE_S)
    meta.apply(r.PartitionChangeRecord("T1", 0, leader=1))  # re-elected: leader epoch 1
    await wait_until(lambda: rm.partitions[("T1", 0)].role.leader_epoch == 1, "leader epoch 1")
    assert rm.offset_for_leader_epoch("t", 0, 1) == (1, 3)
    assert rm.offset_for_leader_epoch("t", 0, 0) == (0, 3)
    await rm.append("t", 0, batch(2), acks=-1, timeout_s=DEADLINE_S)
    assert rm.offset_for_leader_epoch("t", 0, 1) == (1, 5)
    assert rm.offset_for_leader_epoch("t", 0, 0) == (0, 3)


def _headers(data: bytes):
    from rafka.broker.replica.produce_validation import iter_headers

    return list(iter_headers(data))


async def test_partitions_share_the_open_segment_file_bound(started):
    """Goal: `segment_handles_open_max` ([replica] in node.toml) bounds the
    open segment files of all the broker's partitions: after acks=all
    appends to 8 partitions at most 2 files stay open, and every partition
    still appends and reads back through reopened files."""
    meta = Meta()
    meta.apply(*[r.RegisterBrokerRecord(n, f"i{n}", n, "h", 1, None, False) for n in (1, 2, 3)])
    meta.apply(r.TopicRecord("t", "T1"), *[r.PartitionRecord("T1", i, (1,), (1,), 1) for i in range(8)])
    rm = await started(meta, segment_handles_open_max=2)
    await wait_until(lambda: len(rm.partitions) == 8, "8 partitions opened")
    for round_ in range(2):
        for i in range(8):
            res = await rm.append("t", i, batch(2), acks=-1, timeout_s=DEADLINE_S)
            assert res.base_offset == 2 * round_
        assert rm.segment_handles.open_max == 2 and rm.segment_handles.open_count <= 2
    for i in range(8):
        [out] = await rm.fetch([FetchPartition("t", i, 0, 1 << 20)])
        assert out.error_code == 0 and out.high_watermark == 4
        h, recs = decode_batch(out.records)
        assert h.base_offset == 0 and len(recs) == 2
    assert rm.segment_handles.open_count <= 2 and rm.segment_handles.evictions > 0
