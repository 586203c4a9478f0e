"""Goal: a follower fetches again without waiting for its fsync, and tells
the leader how far it is durable as soon as the fsync returns (a
DurableReport), so the HW moves without waiting for a fetch round; and the
HW never counts what a follower has not fsynced. Three in-process
ReplicaManagers over the wire schema (test_replica_replication.Net)."""

from __future__ import annotations

import threading

import trio

from rafka.broker.metadata import records as r
from rafka.broker.replica.leader_state import LeaderState
from rafka.log.fs import OS_FS
from tests.unit.test_replica_manager import DEADLINE_S, Meta, started, wait_until  # noqa: F401 - fixture
from tests.unit.test_replica_replication import batch, trio_cluster  # noqa: F401 - fixture


class GatedFs:
    """The real file layer, but fdatasync waits until `release` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def fdatasync(self, fd: int) -> None:
        self.entered.set()
        assert self.release.wait(DEADLINE_S), "never released"
        OS_FS.fdatasync(fd)

    def __getattr__(self, name):
        return getattr(OS_FS, name)


async def test_next_fetch_waits_at_the_leader_while_the_fsync_runs_and_the_report_moves_the_hw(trio_cluster):
    meta, net, rms = await trio_cluster()
    key = ("t", 0)
    await wait_until(lambda: rms[1].wakeups.waiting() == 2, "both followers' fetches parked")
    gated = GatedFs()
    rms[2].partition(*key).log.fs = gated
    done = {}

    async def produce():
        done["r"] = await rms[1].append("t", 0, batch(b"a"), acks=-1, timeout_s=DEADLINE_S)

    async with trio.open_nursery() as n:
        n.start_soon(produce)
        await wait_until(gated.entered.is_set, "follower 2 fsyncing")
        # follower 2 appended and fetches again while its fsync is blocked
        await wait_until(lambda: rms[1].wakeups.waiting() == 2, "follower 2's next fetch parked")
        f2 = rms[2].partition(*key)
        assert f2.log.log_end_offset == 2 and f2.durable_offset == 0
        assert rms[1].partition(*key).high_watermark == 0 and "r" not in done
        gated.release.set()
    assert done["r"].last_offset == 1 and rms[1].partition(*key).high_watermark == 2
    # the HW came from the report: both fetches are still parked at the leader
    assert rms[1].wakeups.waiting() == 2


def _leader(isr=(1, 2, 3)) -> LeaderState:
    return LeaderState(1, leader_epoch=1, partition_epoch=1, replicas=(1, 2, 3), isr=isr,
                       leader_log_end_offset=10, high_watermark=0, epoch_start_offset=0, now_ms=0)


def test_reports_and_fetches_out_of_order_never_lower_a_durable_offset():
    s = _leader()
    assert not s.follower_durable(2, 8, now_ms=1)
    assert s.follower_durable(3, 9, now_ms=1)  # HW = min(10, 8, 9)
    assert s.high_watermark == 8
    # a fetch sent before the report arrives after it: the durable 8 stays
    s.update_follower(2, 5, now_ms=2, monotonic=True)
    assert s.followers[2].log_end_offset == 8
    assert not s.follower_durable(2, 7, now_ms=3) and s.followers[2].log_end_offset == 8
    # write.caching (in-memory log ends): a fetch's report replaces
    s.update_follower(2, 5, now_ms=4)
    assert s.followers[2].log_end_offset == 5 and s.high_watermark == 8  # the HW never goes down


def test_a_report_reaching_the_leaders_log_end_counts_as_caught_up():
    s = _leader()
    s.follower_durable(2, 10, now_ms=500)
    assert s.followers[2].last_caught_up_ms == 500
    s.follower_durable(3, 9, now_ms=600)
    assert s.followers[3].last_caught_up_ms == 0
    assert not s.follower_durable(9, 10, now_ms=700)  # not a replica: ignored


async def test_a_new_leader_fsyncs_batches_it_fetched_and_never_reported(started):
    """A follower's fetched batches are fsynced by its fetcher's reporter,
    not by the flusher; a follower promoted before that flush must flush
    them itself, or its HW would wait for the next append."""
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
