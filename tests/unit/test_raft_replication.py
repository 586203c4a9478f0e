"""Log replication: ordered apply everywhere, conflict resolution with fast
backoff, the commit rule (Figure 8), the pipelining window and byte limits."""

from __future__ import annotations

import dataclasses

from rafka.raft.messages import AppendEntries, AppendEntriesResponse
from rafka.raft.types import Entry, EntryKind, HardState, Role
from tests.unit.test_raft_harness import Cluster


def test_proposals_apply_in_order_on_every_node():
    """Goal: entries proposed on the leader are applied on all nodes, in
    proposal order, exactly once."""
    c = Cluster(3, seed=7)
    c.elect()
    data = [f"v{i}".encode() for i in range(30)]
    for d in data:
        c.propose(d)
    c.tick(n=5)
    for i in c.nodes:
        assert c.applied[i] == data


def test_conflicting_uncommitted_suffix_is_replaced():
    """Goal: entries an isolated old leader appended but never committed are
    truncated and replaced by the new leader's log; all logs end identical."""
    c = Cluster(3, seed=11)
    old = c.elect()
    c.propose(b"committed")
    c.isolate(old)
    for i in range(5):
        c.nodes[old].propose(f"lost{i}".encode())
    c.deliver()
    others = [i for i in c.nodes if i != old]
    c.run_until(lambda: any(c.nodes[i].role == Role.LEADER for i in others), ids=others)
    new = next(i for i in others if c.nodes[i].role == Role.LEADER)
    c.nodes[new].propose(b"kept")
    c.deliver()
    c.heal()
    c.run_until(lambda: c.applied[old] == c.applied[new] and b"kept" in c.applied[old], max_ticks=100)
    assert c.applied[old] == [b"committed", b"kept"]
    logs = {i: [(e.term, e.data) for e in c.storages[i].entries(1, c.storages[i].last_index() + 1)] for i in c.nodes}
    assert logs[old] == logs[new]


def test_fast_backoff_needs_few_rejections():
    """Goal: a follower with a long divergent suffix is repaired with a
    handful of rejections (term hints), not one per entry."""
    c = Cluster(3, seed=13)
    old = c.elect()
    c.isolate(old)
    for i in range(60):
        c.nodes[old].propose(b"stale%d" % i)
    c.deliver()
    others = [i for i in c.nodes if i != old]
    c.run_until(lambda: any(c.nodes[i].role == Role.LEADER for i in others), ids=others)
    new = next(i for i in others if c.nodes[i].role == Role.LEADER)
    for i in range(60):
        c.nodes[new].propose(b"fresh%d" % i)
    c.deliver()
    # A leader elected now starts probing at its own log end, inside the
    # stale suffix of the old leader.
    third = next(i for i in others if i != new)
    c.nodes[new].transfer_leadership(third)
    c.run_until(lambda: c.nodes[third].role == Role.LEADER, ids=others)
    c.sent.clear()
    c.heal()
    c.run_until(lambda: len(c.applied[old]) == 60, max_ticks=200)
    rejections = [m for m in c.sent if isinstance(m, AppendEntriesResponse) and m.src == old and not m.success]
    assert 1 <= len(rejections) <= 3
    assert c.applied[old] == [b"fresh%d" % i for i in range(60)]


def _figure8_cluster() -> Cluster:
    c = Cluster(5, seed=1)
    logs = {
        1: [Entry(1, 1), Entry(2, 2)],
        2: [Entry(1, 1), Entry(2, 2)],
        3: [Entry(1, 1), Entry(2, 2)],
        4: [Entry(1, 1)],
        5: [Entry(1, 1), Entry(3, 2)],
    }
    for i, entries in logs.items():
        c.storages[i].append(entries)
        c.storages[i].set_hard_state(HardState(term=3, vote=None, commit=1))
        c.start(i)
    return c


def test_figure8_old_term_entry_not_committed_by_counting_replicas():
    """Goal: the commit rule of Raft 5.4.2 — a leader in term 4 never commits
    a term-2 entry just because a majority stores it (S5 with a term-3 entry
    could still be elected and overwrite it); it commits once an entry of
    its own term is on a majority."""
    c = _figure8_cluster()
    c.crash(5)

    def strip(msg):  # followers receive only the old entries, not the no-op
        if isinstance(msg, AppendEntries) and msg.src == 1:
            return dataclasses.replace(msg, entries=[e for e in msg.entries if e.term != 4 or e.index != 3])
        return msg

    for _ in range(100):
        c.nodes[1].tick()
        c.deliver(mutate=strip)
        if c.nodes[1].role == Role.LEADER:
            break
    assert c.nodes[1].role == Role.LEADER and c.nodes[1].term == 4
    c.deliver(mutate=strip)
    matches = [c.nodes[1].prs[i].match for i in (2, 3)]
    assert matches == [2, 2]  # index 2 (term 2) is on S1, S2, S3: a majority
    assert c.nodes[1].log.committed == 1
    c.deliver()
    c.nodes[1].tick()
    c.nodes[1].tick()
    c.deliver()
    assert c.nodes[1].log.committed == 3


def test_inflight_window_bounds_unacknowledged_appends():
    """Goal: with inflight_msgs_max=2 the leader has at most 2 unacknowledged
    AppendEntries to a replicating follower; the rest flow after acks."""
    c = Cluster(3, seed=3, inflight_msgs_max=2, msg_bytes_max=150)
    leader = c.elect()
    c.tick(n=2)
    follower = next(i for i in c.nodes if i != leader)
    core = c.nodes[leader]
    data = [bytes([i]) * 100 for i in range(10)]
    for d in data:
        core.propose(d)
    c.process(leader)
    to_follower = [m for m in c.queue if isinstance(m, AppendEntries) and m.dst == follower and m.entries]
    assert len(to_follower) == 2
    assert all(len(m.entries) == 1 for m in to_follower)  # byte limit: one 124-byte entry per message
    c.deliver()
    c.tick(n=3)
    assert c.applied[follower][-10:] == data


def test_uncommitted_bytes_limit_refuses_proposals():
    """Goal: the leader refuses proposals beyond uncommitted_bytes_max while
    followers do not acknowledge, and accepts again once entries commit."""
    from rafka.raft.errors import ProposalDroppedError
    import pytest

    c = Cluster(3, seed=3, uncommitted_bytes_max=1000)
    leader = c.elect()
    c.isolate(leader)
    core = c.nodes[leader]
    core.propose(b"a" * 600)
    with pytest.raises(ProposalDroppedError):
        core.propose(b"b" * 600)
    c.heal()
    c.tick(n=3)
    assert core.role == Role.LEADER
    core.propose(b"c" * 600)


def test_noop_entry_starts_every_term():
    """Goal: a new leader's first entry is a NOOP of its term."""
    c = Cluster(3, seed=2)
    leader = c.elect()
    core = c.nodes[leader]
    first_of_term = [e for e in c.storages[leader].entries(1, core.log.last_index() + 1) if e.term == core.term][0]
    assert first_of_term.kind == EntryKind.NOOP
