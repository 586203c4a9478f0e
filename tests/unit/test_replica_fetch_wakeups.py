"""Goal: a long-polling fetch is woken only by news on the partitions it
reads: a follower's by an append to one of them, a consumer's by a HW move
on one of them, every fetch by a role change; nothing stays registered once
a fetch stops waiting (answered, timed out or cancelled)."""

from __future__ import annotations

import trio

from rafka.broker.metadata import records as r
from rafka.broker.replica.types import FetchPartition
from rafka.broker.replica.wakeups import FetchWakeups
from tests.unit.test_replica_manager import DEADLINE_S, Meta, batch, started, wait_until  # noqa: F401 - fixture

A = ("t", 0)
B = ("t", 1)


async def _waiter(w: FetchWakeups, keys, follower: bool, woke: list, deadline_s: float = 60.0):
    await w.wait(keys, follower=follower, deadline=trio.current_time() + deadline_s)
    woke.append(trio.current_time())


async def test_only_news_for_the_reader_kind_and_partition_wakes(autojump_clock):
    w = FetchWakeups()
    follower, consumer = [], []
    async with trio.open_nursery() as n:
        n.start_soon(_waiter, w, [A], True, follower)
        n.start_soon(_waiter, w, [A], False, consumer)
        await wait_until(lambda: w.waiting() == 2, "registered")
        w.appended(B)
        w.high_watermark_moved(B)
        w.high_watermark_moved(A)  # consumer's news, not the follower's
        await wait_until(lambda: consumer, "consumer woken")
        assert follower == []
        w.appended(A)
    assert follower and consumer[0] < 60 and follower[0] < 60
    assert w.waiting() == 0


async def test_roles_changed_wakes_everyone_and_deadline_unregisters(autojump_clock):
    w = FetchWakeups()
    woke = []
    async with trio.open_nursery() as n:
        n.start_soon(_waiter, w, [A, B], True, woke)
        n.start_soon(_waiter, w, [B], False, woke)
        await wait_until(lambda: w.waiting() == 3, "registered")
        w.roles_changed()
    assert len(woke) == 2 and w.waiting() == 0
    start = trio.current_time()
    await _waiter(w, [A], False, woke, deadline_s=2.0)
    assert woke[-1] - start >= 2.0 - 1e-9 and w.waiting() == 0  # virtual time: the deadline, not a wake-up
    with trio.move_on_after(1.0):  # cancelled from outside
        await _waiter(w, [A], True, woke)
    assert w.waiting() == 0


def _two_partitions(meta: Meta) -> None:
    meta.apply(*[r.RegisterBrokerRecord(n, f"i{n}", n, "h", 1, None, False) for n in (1, 2)])
    meta.apply(r.TopicRecord("t", "T1"), r.PartitionRecord("T1", 0, (1, 2), (1, 2), 1),
               r.PartitionRecord("T1", 1, (1, 2), (1, 2), 1))


async def test_a_followers_long_poll_ignores_other_partitions_appends(started):
    """The manager's wiring: an acks=1 append to t-1 leaves a follower's
    long poll on t-0 asleep (no re-read); an append to t-0 answers it."""
    meta = Meta()
    _two_partitions(meta)
    rm = await started(meta)
    reads = []
    real = rm._read_all

    def counting(parts, follower, max_bytes):
        reads.append([fp.partition for fp in parts])
        return real(parts, follower, max_bytes)

    rm._read_all = counting
    got = {}

    async def poll():
        got["r"] = await rm.fetch([FetchPartition("t", 0, 0, 1 << 20)], replica_id=2, max_wait_ms=60_000)

    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as n:
            n.start_soon(poll)
            await wait_until(lambda: rm.wakeups.waiting() == 1, "poll waiting")
            for _ in range(3):
                await rm.append("t", 1, batch(1), acks=1, timeout_s=DEADLINE_S)
            await wait_until(lambda: rm.partition("t", 1).durable_offset == 3, "t-1 flushed")
            assert "r" not in got and reads == [[0]]
            await rm.append("t", 0, batch(2), acks=1, timeout_s=DEADLINE_S)
    assert [len(x.records) > 0 for x in got["r"]] == [True]
    assert reads == [[0], [0]] and rm.wakeups.waiting() == 0
