"""Goal: a follower's fetched batches are fsynced by its fetcher before the
next fetch reports them (not also by the flusher), so a follower promoted
before that fsync must flush them itself: its HW reaches its log end
without waiting for an append. And only a follower fetch of the leader's
epoch counts toward the HW."""

from __future__ import annotations

from rafka.broker.metadata import records as r
from rafka.broker.replica.types import FetchPartition
from tests.unit.test_replica_manager import DEADLINE_S, Meta, cluster, started, wait_until  # noqa: F401 - fixture
from tests.unit.test_replica_replication import batch


async def test_a_new_leader_fsyncs_batches_it_fetched_and_never_reported(started):
    meta = Meta()
    meta.apply(*[r.RegisterBrokerRecord(n, f"i{n}", n, "h", 1, None, False) for n in (1, 2)])
    meta.apply(r.TopicRecord("t", "T1"), r.PartitionRecord("T1", 0, (1, 2), (1, 2), 2))
    rm = await started(meta)  # node 1, no fetchers: batches are handed over directly
    p = rm.partition("t", 0)
    rm.follower_append(p, batch(b"f", 3), leader_hw=0)
    assert p.log.log_end_offset == 3 and p.durable_offset == 0
    meta.apply(r.PartitionChangeRecord("T1", 0, leader=1, isr=(1,)))
    await wait_until(lambda: p.leader is not None and p.high_watermark == 3, "new leader's HW at its log end")
    assert p.durable_offset == 3


async def test_a_follower_fetch_of_another_leader_epoch_does_not_move_the_hw(started):
    """Kafka fences such a fetch before it touches the follower's state."""
    meta = Meta()
    cluster(meta, rf_isr=((1, 2), (1, 2)))
    rm = await started(meta)
    await rm.append("t", 0, batch(b"x", 2), acks=1, timeout_s=DEADLINE_S)
    p = rm.partition("t", 0)
    await wait_until(lambda: p.durable_offset == 2, "leader durable")
    epoch = p.role.leader_epoch
    [out] = await rm.fetch([FetchPartition("t", 0, 2, 1 << 20, current_leader_epoch=epoch + 1,
                                           durable_log_end_offset=2)], replica_id=2)
    assert out.error_code != 0 and p.high_watermark == 0
    [out] = await rm.fetch([FetchPartition("t", 0, 2, 1 << 20, current_leader_epoch=epoch,
                                           durable_log_end_offset=2)], replica_id=2)
    assert out.error_code == 0 and p.high_watermark == 2
