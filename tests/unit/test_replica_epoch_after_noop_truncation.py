"""A replica that led an epoch without appending in it, then follows again
and finds nothing to cut, must forget that empty epoch (Kafka's truncateTo
always truncates the epoch cache at the log end). Otherwise the entry
(epoch, old log end) stays in its leader-epoch cache while batches of an
older epoch are fetched on top of it, and the cache misplaces where that
older epoch ends.

Seen in a jepsen kafka run (seed 11): node 1 led jq-0 in epoch 2 at log end
38 without appending, then followed node 2, whose epoch 1 ends at 39; its
truncation was a no-op, it fetched offset 38 (epoch 1) and still held
(2, 38). Its next truncation asked for epoch 2 and cut the committed offset
38; as a leader it would answer a consumer at (39, epoch 1) with end offset
38, and librdkafka seeks back there (KIP-320), re-delivering offset 38."""

from __future__ import annotations

from rafka.broker.metadata import records as r
from tests.unit.test_replica_manager import DEADLINE_S, wait_until
from tests.unit.test_replica_replication import batch, trio_cluster  # noqa: F401 - fixture

P = ("t", 0)


def leader_epoch(meta) -> int:
    return meta.sm.image.topic("t").partitions[0].leader_epoch


async def test_follower_forgets_an_empty_epoch_it_led_when_nothing_is_cut(trio_cluster):  # noqa: F811
    """Goal: after leading epoch E with no appends and following again, the replica's epoch cache
    has no entry for E, so the older epoch it fetched ends at its log end, as a consumer asking as
    leader later sees it."""
    meta, net, rms = await trio_cluster(lag_ms=60_000)
    await rms[1].append(*P, batch(b"a"), acks=-1, timeout_s=DEADLINE_S)  # 0-1, epoch of leader 1
    meta.apply(r.PartitionChangeRecord("T1", 0, leader=2, isr=(1, 2, 3)))
    await wait_until(lambda: rms[2].partition(*P).leader is not None, "2 leads")
    older = leader_epoch(meta)
    await rms[2].append(*P, batch(b"b"), acks=-1, timeout_s=DEADLINE_S)  # 2-3, all replicas
    net.down.add(1)
    await rms[2].append(*P, batch(b"c", 1), acks=1, timeout_s=DEADLINE_S)  # 4, node 1 misses it
    await wait_until(lambda: rms[3].partition(*P).log.log_end_offset == 5, "3 has offset 4")

    meta.apply(r.PartitionChangeRecord("T1", 0, leader=1, isr=(1, 2, 3)))  # 1 leads an empty epoch
    await wait_until(lambda: rms[1].partition(*P).leader is not None, "1 leads")
    empty = leader_epoch(meta)
    assert rms[1].partition(*P).log.leader_epochs.entries[-1] == (empty, 4)

    meta.apply(r.PartitionChangeRecord("T1", 0, leader=2, isr=(1, 2, 3)))  # back to 2, which has offset 4
    await wait_until(lambda: rms[2].partition(*P).leader is not None, "2 leads again")
    net.down.discard(1)
    p1 = rms[1].partition(*P)
    await wait_until(lambda: p1.log.log_end_offset == 5 and p1.durable_offset == 5, "1 fetched offset 4")
    assert empty not in [e for e, _ in p1.log.leader_epochs.entries]
    assert p1.log.leader_epochs.end_offset_for(older) == (older, 5)

    # As the next leader, node 1 tells a consumer at (5, older) that its position is valid.
    meta.apply(r.PartitionChangeRecord("T1", 0, leader=1, isr=(1, 2, 3)))
    await wait_until(lambda: rms[1].partition(*P).leader is not None, "1 leads again")
    assert rms[1].offset_for_leader_epoch(*P, older, leader_epoch(meta)) == (older, 5)
    assert p1.log.read(0, 1 << 20) == rms[2].partition(*P).log.read(0, 1 << 20)
