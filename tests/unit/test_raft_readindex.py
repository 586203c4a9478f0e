"""ReadIndex: reads are answered only after a quorum confirms leadership,
only once the leader committed an entry of its term, from followers via
the leader, and the pending queue is bounded."""

from __future__ import annotations

import pytest

from rafka.raft.errors import NotLeaderError, ReadIndexError
from rafka.raft.messages import AppendEntriesResponse, Heartbeat
from rafka.raft.types import Role
from tests.unit.test_raft_harness import Cluster


def test_leader_read_needs_a_heartbeat_quorum():
    """Goal: the ReadState appears only after followers answer a heartbeat
    sent after the read, and carries the commit index at read time."""
    c = Cluster(3, seed=1)
    leader = c.elect()
    c.propose(b"a")
    core = c.nodes[leader]
    commit = core.log.committed
    core.read_index(b"r1")
    c.process(leader)
    assert c.read_states[leader] == []
    assert any(isinstance(m, Heartbeat) and m.read_seq >= 1 for m in c.queue)
    c.deliver()
    assert [(r.index, r.request_ctx) for r in c.read_states[leader]] == [(commit, b"r1")]


def test_isolated_leader_cannot_answer_reads():
    """Goal: a leader cut off from the majority never confirms a read (no
    stale reads from a deposed leader)."""
    c = Cluster(3, seed=2)
    leader = c.elect()
    c.isolate(leader)
    c.nodes[leader].read_index(b"stale?")
    c.tick(n=30)
    assert c.read_states[leader] == []
    assert c.nodes[leader].role == Role.FOLLOWER


def test_follower_read_is_forwarded_to_leader():
    """Goal: a follower's read returns the leader's commit index, so the
    follower can serve it once it has applied that far."""
    c = Cluster(3, seed=3)
    leader = c.elect()
    for i in range(3):
        c.propose(b"v%d" % i)
    follower = next(i for i in c.nodes if i != leader)
    c.nodes[follower].read_index(b"f1")
    c.deliver()
    assert [r.request_ctx for r in c.read_states[follower]] == [b"f1"]
    assert c.read_states[follower][0].index == c.nodes[leader].log.committed


def test_new_leader_defers_reads_until_its_term_commits():
    """Goal: a read on a just-elected leader waits until its no-op commits,
    then is answered with an index that includes it."""
    c = Cluster(3, seed=4)
    no_acks = lambda m: isinstance(m, AppendEntriesResponse)  # keep the no-op uncommitted
    for _ in range(200):
        for node in c.nodes.values():
            node.tick()
        c.deliver(drop=no_acks)
        if c.leader() is not None:
            break
    leader = c.leader()
    core = c.nodes[leader]
    assert not core.log.match_term(core.log.committed, core.term)
    core.read_index(b"early")
    c.deliver(drop=no_acks)
    assert c.read_states[leader] == []
    c.tick(n=5)
    assert [r.request_ctx for r in c.read_states[leader]] == [b"early"]
    assert core.log.term(c.read_states[leader][0].index) == core.term


def test_read_without_leader_raises_and_queue_is_bounded():
    """Goal: a read with no known leader raises NotLeaderError; the leader
    refuses reads beyond pending_read_index_max."""
    c = Cluster(3, seed=5, pending_read_index_max=2)
    with pytest.raises(NotLeaderError):
        c.nodes[1].read_index(b"x")
    leader = c.elect()
    c.isolate(leader)
    core = c.nodes[leader]
    core.read_index(b"1")
    core.read_index(b"2")
    with pytest.raises(ReadIndexError):
        core.read_index(b"3")
