"""Replication between three in-process ReplicaManagers: follower fetchers
over the typed peer messages (round-tripped through the wire schema, served
by ReplicaPeerApi), acks=all durability, ISR shrink/expand through a real
controller decision (elections.alter_partition), and KIP-101/279
truncation of a deposed leader's divergent tail."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from rafka.broker.controller.elections import alter_partition
from rafka.broker.metadata import records as r
from rafka.broker.replica.manager import ReplicaManager
from rafka.broker.replica.peer_api import ReplicaPeerApi
from rafka.broker.replica.settings import ReplicaConfig
from rafka.log.records import Record, build_batch
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.schema import from_wire, to_wire
from tests.unit.test_replica_manager import DEADLINE_S, Meta, wait_until


def batch(tag: bytes, n=2) -> bytes:
    return build_batch([Record(None, tag + b"%d" % i) for i in range(n)], timestamp_ms=1000)


class Net:
    """Routes peer calls between in-process nodes through the wire schema."""

    def __init__(self) -> None:
        self.apis: dict[int, ReplicaPeerApi] = {}
        self.down: set[int] = set()  # nodes whose outgoing and incoming calls fail

    def caller(self, src: int):
        async def call(dst: int, msg, timeout_s: float):
            if src in self.down or dst in self.down:
                await trio.sleep(0.05)  # wait-ok: a down link's connect delay
                raise OSError(f"link {src}->{dst} down")
            wire = from_wire(msg.TYPE, to_wire(msg))
            handler = self.apis[dst].peer_handlers()[msg.TYPE]
            with trio.fail_after(timeout_s):
                resp = await handler(wire, None)
            if src in self.down or dst in self.down:  # cut while the call was in flight
                raise OSError(f"link {src}->{dst} down")
            return from_wire(resp.TYPE, to_wire(resp))
        return call


@pytest.fixture
async def trio_cluster(tmp_path, nursery):
    async def make(isr=(1, 2, 3), configs=(), lag_ms=30_000):
        meta = Meta()
        meta.apply(*[r.RegisterBrokerRecord(n, f"i{n}", n, "h", 1, None, False) for n in (1, 2, 3)])
        recs = [r.TopicRecord("t", "T1"), r.PartitionRecord("T1", 0, (1, 2, 3), tuple(isr), 1)]
        recs += [r.ConfigRecord("t", k, v) for k, v in configs]
        meta.apply(*recs)
        net = Net()

        async def alter(req):
            records, resp = alter_partition(meta.sm.image, req)
            if records:
                meta.apply(*records)
            return resp

        rms = {}
        for n in (1, 2, 3):
            cfg = ReplicaConfig(lag_time_max_ms=lag_ms, fetch_wait_max_ms=200)
            rm = ReplicaManager(n, [tmp_path / f"n{n}"], meta.sm, cfg, alter_partition=alter,
                                broker_epoch=lambda n=n: n, peer_call=net.caller(n))
            net.apis[n] = ReplicaPeerApi(rm)
            rms[n] = rm
        for rm in rms.values():
            await nursery.start(rm.run)
        return meta, net, rms
    return make




def isr(meta) -> tuple:
    return meta.sm.image.topic("t").partitions[0].isr


async def test_acks_all_replicates_to_every_isr_follower_on_disk(trio_cluster):
    """Goal: acks=all returns once both followers fsynced the batch; all three logs are byte-identical."""
    meta, net, rms = await trio_cluster()
    for i in range(5):
        res = await rms[1].append("t", 0, batch(b"a%d-" % i), acks=-1, timeout_s=DEADLINE_S)
        assert res.base_offset == 2 * i
        for n in (2, 3):
            assert rms[n].partition("t", 0).durable_offset >= res.last_offset + 1
    await wait_until(lambda: all(rms[n].partition("t", 0).high_watermark == 10 for n in (2, 3)), "follower hw")
    logs = {n: rms[n].partition("t", 0).log.read(0, 1 << 20) for n in (1, 2, 3)}
    assert logs[1] == logs[2] == logs[3] and len(logs[1]) > 0


async def test_isr_shrinks_for_a_lagging_follower_and_expands_when_caught_up(trio_cluster):
    """Goal: the leader drops a follower that stops fetching (AlterPartition), acks=all then needs only
    the rest, and the follower rejoins once it catches up."""
    meta, net, rms = await trio_cluster(lag_ms=300)
    await rms[1].append("t", 0, batch(b"x"), acks=-1, timeout_s=DEADLINE_S)
    net.down.add(3)
    await wait_until(lambda: isr(meta) == (1, 2), "isr shrink")
    await rms[1].append("t", 0, batch(b"y"), acks=-1, timeout_s=DEADLINE_S)
    assert rms[3].partition("t", 0).log.log_end_offset == 2
    net.down.discard(3)
    await wait_until(lambda: isr(meta) == (1, 2, 3), "isr expand")
    assert rms[3].partition("t", 0).log.log_end_offset == 4


async def test_new_leader_has_acked_records_and_old_leader_truncates_divergent_tail(trio_cluster):
    """Goal: records acked with acks=all survive a leader change; the deposed leader's unreplicated
    tail is truncated by OffsetForLeaderEpoch and its log converges to the new leader's."""
    meta, net, rms = await trio_cluster(lag_ms=60_000)
    await rms[1].append("t", 0, batch(b"acked"), acks=-1, timeout_s=DEADLINE_S)
    net.down.add(1)  # leader 1 isolated: its next appends reach no follower
    await rms[1].append("t", 0, batch(b"lost", 3), acks=1, timeout_s=1)
    assert rms[1].partition("t", 0).log.log_end_offset == 5
    meta.apply(r.PartitionChangeRecord("T1", 0, leader=2, isr=(2, 3)))
    await wait_until(lambda: rms[2].partition("t", 0).leader is not None, "2 leads")
    res = await rms[2].append("t", 0, batch(b"new", 1), acks=-1, timeout_s=DEADLINE_S)
    assert res.base_offset == 2
    net.down.discard(1)
    want = rms[2].partition("t", 0).log.read(0, 1 << 20)
    await wait_until(lambda: rms[1].partition("t", 0).log.log_end_offset == 3
                     and rms[1].partition("t", 0).durable_offset == 3, "1 truncated and refetched")
    assert rms[1].partition("t", 0).log.read(0, 1 << 20) == want
    assert rms[3].partition("t", 0).log.read(0, 1 << 20) == want
    await wait_until(lambda: isr(meta) == (1, 2, 3), "1 rejoins the isr")


async def test_follower_refuses_consumers_and_fenced_fetch(trio_cluster):
    """Goal: a follower does not serve consumer fetches; a follower fetch with a stale epoch is fenced."""
    meta, net, rms = await trio_cluster()
    from rafka.broker.replica.types import FetchPartition

    [out] = await rms[2].fetch([FetchPartition("t", 0, 0, 1000)])
    assert out.error_code == ErrorCode.NOT_LEADER_OR_FOLLOWER
    [out] = await rms[1].fetch([FetchPartition("t", 0, 0, 1000, current_leader_epoch=7)], replica_id=2)
    assert out.error_code == ErrorCode.UNKNOWN_LEADER_EPOCH
    with pytest.raises(RafkaError):
        await rms[2].append("t", 0, batch(b"z"), acks=1, timeout_s=1)
