"""RaftDriver batching and pipelining: propose_batch replicates a whole
list as one append and returns every apply result in order; the leader
sends its AppendEntries before persisting the same entries itself."""

from __future__ import annotations

import pytest
import trio

from rafka.raft.errors import NotLeaderError, ProposalDroppedError
from rafka.raft.messages import AppendEntries
from tests.unit.test_raft_driver import _cluster, _leader, _until


async def test_propose_batch_returns_results_in_order_everywhere(autojump_clock):
    """Goal: propose_batch returns the apply result of each entry in order,
    and every state machine applies the batches in proposal order."""
    router, machines = _cluster()
    async with trio.open_nursery() as nursery:
        for d in router.drivers.values():
            await nursery.start(d.run)
        await _until(lambda: _leader(router) is not None)
        leader = router.drivers[_leader(router)]
        first = [b"a%d" % i for i in range(10)]
        second = [b"b%d" % i for i in range(5)]
        assert await leader.propose_batch(first, timeout_s=5) == list(range(1, 11))
        assert await leader.propose_batch(second, timeout_s=5) == list(range(11, 16))
        assert await leader.propose_batch([], timeout_s=5) == []
        await _until(lambda: all(len(m.values) == 15 for m in machines.values()))
        assert all(m.values == first + second for m in machines.values())
        nursery.cancel_scope.cancel()


async def test_propose_batch_refusals_append_nothing(autojump_clock):
    """Goal: a batch on a follower raises NotLeaderError, one larger than
    pending_proposals_max raises ProposalDroppedError, a stale
    expected_term raises NotLeaderError; none appends an entry."""
    router, machines = _cluster(pending_proposals_max=8)
    async with trio.open_nursery() as nursery:
        for d in router.drivers.values():
            await nursery.start(d.run)
        await _until(lambda: _leader(router) is not None)
        lid = _leader(router)
        leader = router.drivers[lid]
        follower = router.drivers[next(i for i in router.drivers if i != lid)]
        await _until(lambda: follower.core.leader_id == lid)
        last = leader.core.log.last_index()
        with pytest.raises(NotLeaderError):
            await follower.propose_batch([b"x"], timeout_s=5)
        with pytest.raises(ProposalDroppedError):
            await leader.propose_batch([b"y"] * 9, timeout_s=5)
        with pytest.raises(NotLeaderError):
            await leader.propose_batch([b"z"], timeout_s=5, expected_term=leader.core.term - 1)
        assert leader.core.log.last_index() == last
        assert await leader.propose_batch([b"w"] * 8, timeout_s=5) == list(range(1, 9))
        nursery.cancel_scope.cancel()


async def test_leader_sends_appends_before_persisting_them(autojump_clock):
    """Goal: pipelining — the leader hands an AppendEntries carrying an entry
    to its transport before its own storage.append of that entry; the entry
    still commits and applies everywhere."""
    router, machines = _cluster()
    events: list[tuple[str, int, int]] = []  # (what, node, last index)
    for i, d in router.drivers.items():
        storage, transport = d.storage, d.transport
        real_append, real_send = storage.append, transport.send

        def append(entries, i=i, real_append=real_append):
            if entries:
                events.append(("persist", i, entries[-1].index))
            real_append(entries)

        def send(msg, i=i, real_send=real_send):
            if isinstance(msg, AppendEntries) and msg.entries:
                events.append(("send", i, msg.entries[-1].index))
            real_send(msg)

        storage.append = append
        transport.send = send
    async with trio.open_nursery() as nursery:
        for d in router.drivers.values():
            await nursery.start(d.run)
        await _until(lambda: _leader(router) is not None)
        lid = _leader(router)
        events.clear()
        leader = router.drivers[lid]
        await leader.propose_batch([b"p1", b"p2"], timeout_s=5)
        index = leader.core.log.last_index()
        mine = [(what, last) for what, node, last in events if node == lid and last == index]
        assert mine[0] == ("send", index)
        assert ("persist", index) in mine
        await _until(lambda: all(m.values[-2:] == [b"p1", b"p2"] for m in machines.values()))
        nursery.cancel_scope.cancel()
