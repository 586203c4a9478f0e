"""Membership: learners don't vote, single-server add/remove, a voter must be
a caught-up learner first, leader self-removal, leadership transfer."""

from __future__ import annotations

import random

import pytest

from rafka.raft.config import RaftConfig
from rafka.raft.core import RaftCore
from rafka.raft.errors import ConfChangeError, NotLeaderError, ProposalDroppedError, TransferError
from rafka.raft.messages import AppendEntries, RequestVote, TimeoutNow
from rafka.raft.storage import MemoryStorage
from rafka.raft.types import ConfChangeKind, ConfigState, Entry, EntryKind, Role
from tests.unit.test_raft_harness import Cluster


def test_learner_replicates_but_does_not_count_for_commit():
    """Goal: a learner receives and applies entries, but its acks never make
    an entry committed (only voters count)."""
    c = Cluster(3, seed=1, learners=(4,))
    leader = c.elect()
    c.propose(b"a")
    c.tick(n=3)
    assert c.applied[4] == [b"a"]
    voters_down = [i for i in (1, 2, 3) if i != leader]
    for i in voters_down:
        c.crash(i)
    idx = c.nodes[leader].propose(b"b")
    c.deliver()
    assert c.nodes[leader].prs[4].match >= idx
    assert c.nodes[leader].log.committed < idx


def test_learner_vote_is_not_counted():
    """Goal: a learner's vote grant does not help a candidate win."""
    c = Cluster(3, seed=1, learners=(4,))
    c.elect()
    cand = c.nodes[1]
    for i in (2, 3):
        c.crash(i)
    c.cut.update({(1, 2), (1, 3)})
    for _ in range(200):
        cand.tick()
        c.deliver()
    assert cand.role != Role.LEADER


def test_add_learner_then_promote_to_voter():
    """Goal: a new node joins as a learner, catches up, and is promoted; the
    voter set then has four members on every node."""
    c = Cluster(3, seed=2, extra=(4,))
    leader = c.elect()
    for i in range(5):
        c.propose(b"x%d" % i)
    core = c.nodes[leader]
    core.propose_conf_change("add_learner", 4)
    c.tick(n=5)
    assert c.nodes[4].learners == frozenset({4})
    assert c.applied[4] == c.applied[leader]
    core.propose_conf_change(ConfChangeKind.ADD_VOTER, 4)
    c.tick(n=5)
    for i in c.nodes:
        assert c.nodes[i].voters == frozenset({1, 2, 3, 4})
        assert c.nodes[i].learners == frozenset()


def test_add_voter_refused_unless_caught_up_learner():
    """Goal: add_voter for a non-learner, or a learner that is behind, is
    refused; only one change may be pending at a time."""
    c = Cluster(3, seed=2, extra=(4,))
    leader = c.elect()
    core = c.nodes[leader]
    with pytest.raises(ConfChangeError):
        core.propose_conf_change("add_voter", 4)
    c.crash(4)
    core.propose_conf_change("add_learner", 4)
    with pytest.raises(ConfChangeError):
        core.propose_conf_change("remove_voter", 3)  # the learner change is still pending
    c.tick(n=3)
    with pytest.raises(ConfChangeError, match="not caught up"):
        core.propose_conf_change("add_voter", 4)
    with pytest.raises(ConfChangeError):
        core.propose_conf_change("bogus", 4)


def test_remove_voter_shrinks_quorum():
    """Goal: after removing a voter, two remaining voters commit without it
    and the removed node is no longer in anyone's configuration."""
    c = Cluster(3, seed=3)
    leader = c.elect()
    victim = next(i for i in c.nodes if i != leader)
    c.nodes[leader].propose_conf_change("remove_voter", victim)
    c.tick(n=3)
    c.crash(victim)
    idx = c.propose(b"after")
    assert c.nodes[leader].voters == frozenset({1, 2, 3}) - {victim}
    assert c.nodes[leader].log.committed >= idx


def test_leader_removing_itself_steps_down_after_commit():
    """Goal: a leader that removes itself keeps leading until the change
    commits, then steps down; the remaining voters elect a new leader."""
    c = Cluster(3, seed=4)
    leader = c.elect()
    c.nodes[leader].propose_conf_change("remove_voter", leader)
    c.deliver()
    c.tick(n=3)
    assert c.nodes[leader].role == Role.FOLLOWER
    assert c.nodes[leader].reason == "removed from the configuration"
    others = [i for i in c.nodes if i != leader]
    c.run_until(lambda: any(c.nodes[i].role == Role.LEADER for i in others))
    c.sent.clear()
    c.tick(n=50)
    assert not any(isinstance(m, RequestVote) and m.src == leader for m in c.sent)


def test_config_takes_effect_on_append_and_reverts_on_truncation():
    """Goal: a follower uses a configuration as soon as the CONFIG entry is
    appended, and falls back to the previous one if that entry is truncated
    by a newer leader."""
    storage = MemoryStorage(ConfigState(frozenset({1, 2, 3})))
    core = RaftCore(2, RaftConfig(), storage, random.Random(0))
    learner_conf = ConfigState(frozenset({1, 2, 3}), frozenset({4}))
    core.step(AppendEntries(src=1, dst=2, term=1, prev_log_index=0, prev_log_term=0,
                            entries=[Entry(1, 1, EntryKind.NOOP), Entry(1, 2, EntryKind.CONFIG, learner_conf.encode())]))
    assert core.learners == frozenset({4})
    assert core.log.committed == 0  # effective before commit
    core.step(AppendEntries(src=3, dst=2, term=2, prev_log_index=1, prev_log_term=1,
                            entries=[Entry(2, 2, EntryKind.NOOP)]))
    assert core.learners == frozenset()
    assert core.voters == frozenset({1, 2, 3})
    assert core.log.term(2) == 2


def test_transfer_leadership_hands_over_and_blocks_proposals_meanwhile():
    """Goal: transfer_leadership makes the target leader (via TimeoutNow,
    bypassing stickiness) in a higher term; proposals during the transfer
    are refused."""
    c = Cluster(3, seed=6)
    leader = c.elect()
    target = next(i for i in c.nodes if i != leader)
    core = c.nodes[leader]
    term = core.term
    core.transfer_leadership(target)
    with pytest.raises(ProposalDroppedError):
        core.propose(b"x")
    c.deliver()
    assert any(isinstance(m, TimeoutNow) and m.dst == target for m in c.sent)
    assert c.leader() == target
    assert c.nodes[target].term == term + 1
    c.tick(n=3)
    assert c.nodes[leader].leader_id == target


def test_transfer_to_lagging_target_catches_it_up_first():
    """Goal: a target behind the leader's log gets the missing entries before
    TimeoutNow, and still wins."""
    c = Cluster(3, seed=7)
    leader = c.elect()
    target = next(i for i in c.nodes if i != leader)
    c.crash(target)
    for i in range(5):
        c.propose(b"v%d" % i)
    c.start(target)
    c.nodes[leader].transfer_leadership(target)
    c.deliver()
    c.tick(n=3)
    assert c.leader() == target
    assert c.applied[target][-5:] == [b"v%d" % i for i in range(5)]


def test_transfer_errors_are_typed():
    """Goal: transfer to a non-voter or from a follower raises typed errors."""
    c = Cluster(3, seed=8, learners=(4,))
    leader = c.elect()
    with pytest.raises(TransferError):
        c.nodes[leader].transfer_leadership(4)
    follower = next(i for i in (1, 2, 3) if i != leader)
    with pytest.raises(NotLeaderError):
        c.nodes[follower].transfer_leadership(leader)
