"""Batched proposals and the leader's pipelined appends in the pure core:
propose_batch is all-or-none and shares AppendEntries, and the leader's own
log counts toward commit only once persisted (advance), so sending its
appends before persisting never lets an entry commit on fewer than a
majority of disks."""

from __future__ import annotations

import pytest

from rafka.raft.errors import NotLeaderError, ProposalDroppedError
from rafka.raft.messages import AppendEntries, RequestVote
from rafka.raft.types import Role
from tests.unit.test_raft_harness import Cluster


def _persist(c: Cluster, i: int, rd) -> None:
    storage = c.storages[i]
    storage.append(rd.entries)
    if rd.hard_state is not None:
        storage.set_hard_state(rd.hard_state)


def test_propose_batch_appends_in_order_and_replicates():
    """Goal: a batch's entries get consecutive indexes in order, travel in one
    AppendEntries per follower, and are applied everywhere in order."""
    c = Cluster(3, seed=5)
    leader = c.elect()
    c.tick(n=2)
    core = c.nodes[leader]
    last = core.log.last_index()
    data = [b"b%d" % i for i in range(20)]
    indexes = core.propose_batch(data)
    assert indexes == list(range(last + 1, last + 21))
    c.process(leader)
    carrying = [m for m in c.queue if isinstance(m, AppendEntries) and m.entries]
    assert sorted(m.dst for m in carrying) == sorted(i for i in c.nodes if i != leader)
    assert all([e.data for e in m.entries] == data for m in carrying)
    c.deliver()
    c.tick(n=3)
    for i in c.nodes:
        assert c.applied[i][-20:] == data


def test_proposals_between_readys_share_one_append():
    """Goal: several proposals stepped before the next ready() go out as one
    AppendEntries per follower (batching), not one each."""
    c = Cluster(3, seed=6)
    leader = c.elect()
    c.tick(n=2)
    core = c.nodes[leader]
    for k in range(5):
        core.propose(b"p%d" % k)
    c.process(leader)
    carrying = [m for m in c.queue if isinstance(m, AppendEntries) and m.entries]
    assert len(carrying) == 2
    assert all([e.data for e in m.entries] == [b"p%d" % k for k in range(5)] for m in carrying)


def test_propose_batch_is_all_or_none():
    """Goal: a refused batch appends nothing: on a follower (NotLeaderError),
    a non-bytes item, or beyond uncommitted_bytes_max."""
    c = Cluster(3, seed=7, uncommitted_bytes_max=1000)
    leader = c.elect()
    follower = next(i for i in c.nodes if i != leader)
    with pytest.raises(NotLeaderError):
        c.nodes[follower].propose_batch([b"x"])
    core = c.nodes[leader]
    c.isolate(leader)
    last = core.log.last_index()
    with pytest.raises(ProposalDroppedError):
        core.propose_batch([b"ok", "not bytes"])
    core.propose_batch([b"a" * 600])
    with pytest.raises(ProposalDroppedError):
        core.propose_batch([b"b" * 100, b"c" * 400])
    assert core.log.last_index() == last + 1
    assert core.propose_batch([]) == []


def test_leader_entry_commits_only_after_its_own_persist():
    """Goal: with one follower down, a follower's ack of entries the leader
    sent before persisting them does not commit them (1 of 3 disks); they
    commit once the leader's Ready is persisted and advanced."""
    c = Cluster(3, seed=8)
    leader = c.elect()
    c.tick(n=2)
    down, up = [i for i in c.nodes if i != leader]
    c.crash(down)
    core = c.nodes[leader]
    index = core.propose(b"pipelined")
    rd = core.ready()
    early = core.messages_before_persist(rd)
    assert [e.index for e in rd.entries] == [index]
    assert early == rd.messages[: len(early)]
    to_up = [m for m in early if isinstance(m, AppendEntries) and m.dst == up]
    assert to_up and to_up[0].entries[-1].index == index
    # The follower persists and acknowledges while the leader has not persisted.
    c.nodes[up].step(to_up[0])
    c.process(up)
    acks = [m for m in c.queue if m.dst == leader and m.src == up]
    c.queue.clear()
    for ack in acks:
        core.step(ack)
    assert core.log.committed < index
    _persist(c, leader, rd)
    core.advance(rd)
    assert core.log.committed == index
    c.process(leader)
    assert c.applied[leader][-1] == b"pipelined"


def test_single_voter_commits_after_advance():
    """Goal: a one-voter cluster still commits (its own persisted log is a
    quorum) without any peer."""
    c = Cluster(1, seed=9)
    leader = c.elect()
    assert leader == 1
    c.propose(b"solo")
    assert c.applied[1] == [b"solo"]


def test_no_messages_before_persist_when_term_or_vote_changes():
    """Goal: a Ready that changes term or vote (a campaign) offers nothing to
    send early: its votes depend on the hard state being durable first."""
    c = Cluster(3, seed=10, pre_vote=False)
    node = c.nodes[1]
    while node.role != Role.CANDIDATE:
        node.tick()
    rd = node.ready()
    assert rd.hard_state is not None and any(isinstance(m, RequestVote) for m in rd.messages)
    assert node.messages_before_persist(rd) == []
    node.advance(rd)

