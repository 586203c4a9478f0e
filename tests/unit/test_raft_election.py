"""Elections: one leader per term, pre-vote, check-quorum, stickiness,
role transitions, learners never campaign."""

from __future__ import annotations

import random

import pytest

from rafka.raft.config import RaftConfig
from rafka.raft.core import RaftCore
from rafka.raft.errors import NotLeaderError, RaftConfigError
from rafka.raft.messages import RequestVote
from rafka.raft.storage import MemoryStorage
from rafka.raft.types import ConfigState, HardState, Role
from tests.unit.test_raft_harness import Cluster


@pytest.mark.parametrize("seed", range(5))
def test_three_nodes_elect_exactly_one_leader_per_term(seed):
    """Goal: election safety — across seeds, a leader emerges and no two
    nodes are leader in the same term."""
    c = Cluster(3, seed=seed)
    leader = c.elect()
    terms = [c.nodes[i].term for i in c.leaders()]
    assert len(terms) == len(set(terms))
    assert c.nodes[leader].status().role == "leader"


def test_single_node_elects_itself_and_commits():
    """Goal: a one-voter quorum elects itself and commits proposals alone."""
    c = Cluster(1)
    assert c.elect() == 1
    idx = c.propose(b"x")
    assert c.nodes[1].log.committed >= idx
    assert c.applied[1] == [b"x"]


def test_vote_persisted_in_hard_state_before_grant_is_sent():
    """Goal: the Ready that carries a vote grant also carries the hard state
    with that vote (so the driver persists it before sending)."""
    storage = MemoryStorage(ConfigState(frozenset({1, 2, 3})))
    core = RaftCore(2, RaftConfig(), storage, random.Random(0))
    core.step(RequestVote(src=1, dst=2, term=1, last_log_index=0, last_log_term=0))
    rd = core.ready()
    assert rd.hard_state == HardState(term=1, vote=1, commit=0)
    assert [m.granted for m in rd.messages] == [True]


def test_restart_keeps_term_and_vote():
    """Goal: a node restarted from its storage does not vote twice in a term."""
    storage = MemoryStorage(ConfigState(frozenset({1, 2, 3})))
    core = RaftCore(2, RaftConfig(), storage, random.Random(0))
    core.step(RequestVote(src=1, dst=2, term=1, last_log_index=0, last_log_term=0))
    rd = core.ready()
    storage.set_hard_state(rd.hard_state)
    core2 = RaftCore(2, RaftConfig(), storage, random.Random(1))
    core2.step(RequestVote(src=3, dst=2, term=1, last_log_index=0, last_log_term=0))
    assert [m.granted for m in core2.ready().messages] == [False]
    assert core2.term == 1 and core2.vote == 1


def test_vote_decisions_are_reported_with_their_reason():
    """Goal: the core reports each vote it grants or rejects (candidate,
    term, reason) in Ready.events for the driver to log, without I/O; the
    events are drained by ready()."""
    storage = MemoryStorage(ConfigState(frozenset({1, 2, 3})))
    core = RaftCore(2, RaftConfig(), storage, random.Random(0))
    core.step(RequestVote(src=1, dst=2, term=1, last_log_index=0, last_log_term=0))
    rd = core.ready()
    assert rd.events == [("vote_granted", {"candidate": 1, "term": 1, "pre_vote": False, "transfer": False,
                                           "reason": "candidate's log is at least as up to date as ours"})]
    storage.set_hard_state(rd.hard_state)
    core.advance(rd)
    core.step(RequestVote(src=3, dst=2, term=1, last_log_index=0, last_log_term=0))
    [(name, fields)] = core.ready().events
    assert name == "vote_rejected" and fields["candidate"] == 3
    assert fields["reason"] == "already voted for 1 in term 1"


def test_stale_log_vote_rejection_names_both_logs():
    """Goal: a candidate whose log is behind is refused with both logs' last
    term and index in the reason."""
    c = Cluster(3, seed=1)
    leader = c.elect()
    c.propose(b"x")
    follower = next(n for n in c.nodes.values() if n.id != leader)
    candidate = next(i for i in c.nodes if i not in (leader, follower.id))
    last_term, last_index = follower.log.last_term(), follower.log.last_index()
    follower.events = ()
    follower.step(RequestVote(src=candidate, dst=follower.id, term=follower.term + 1,
                              last_log_index=0, last_log_term=0, transfer=True))
    [(name, fields)] = follower.events
    assert name == "vote_rejected" and fields["candidate"] == candidate
    assert fields["reason"] == (f"candidate's log (last term 0, index 0) is behind ours "
                                f"(last term {last_term}, index {last_index})")


def test_prevote_keeps_partitioned_node_from_disrupting():
    """Goal: a node cut off for many election timeouts does not inflate its
    term (pre-vote fails), so on rejoining the leader keeps leading."""
    c = Cluster(3, seed=3)
    leader = c.elect()
    leader_term = c.nodes[leader].term
    loner = next(i for i in c.nodes if i != leader)
    c.isolate(loner)
    c.tick(n=100)
    assert c.nodes[loner].term == leader_term  # pre-vote never succeeded
    c.heal()
    c.tick(n=30)
    assert c.leader() == leader
    assert c.nodes[leader].term == leader_term


def test_without_prevote_rejoining_node_disrupts_the_term():
    """Goal: the counterfactual — with pre-vote off the isolated node's term
    grows, showing the pre-vote test above measures something."""
    c = Cluster(3, seed=3, pre_vote=False, check_quorum=False)
    leader = c.elect()
    loner = next(i for i in c.nodes if i != leader)
    c.isolate(loner)
    c.tick(n=100)
    assert c.nodes[loner].term > c.nodes[leader].term


def test_check_quorum_leader_steps_down_when_isolated():
    """Goal: a leader that hears from no majority for an election timeout
    steps down, and the majority elects a new leader."""
    c = Cluster(3, seed=5)
    leader = c.elect()
    c.isolate(leader)
    c.run_until(lambda: c.nodes[leader].role == Role.FOLLOWER, max_ticks=50)
    assert c.nodes[leader].reason == "check-quorum lost majority"
    others = [i for i in c.nodes if i != leader]
    c.run_until(lambda: any(c.nodes[i].role == Role.LEADER for i in others), ids=others)


def test_leader_stickiness_ignores_vote_request_within_lease():
    """Goal: a follower that hears from a live leader ignores a higher-term
    RequestVote (no term bump, no reply)."""
    c = Cluster(3, seed=2)
    leader = c.elect()
    follower = next(i for i in c.nodes if i != leader)
    core = c.nodes[follower]
    term = core.term
    other = next(i for i in c.nodes if i not in (leader, follower))
    core.step(RequestVote(src=other, dst=follower, term=term + 5, last_log_index=100, last_log_term=term + 4))
    assert core.term == term
    assert not core.msgs


def test_learner_never_campaigns():
    """Goal: a learner whose leader is gone stays a follower forever."""
    c = Cluster(3, seed=1, learners=(4,))
    c.elect()
    term = c.nodes[4].term
    for i in (1, 2, 3):
        c.crash(i)
    c.tick(ids=[4], n=200)
    assert c.nodes[4].role == Role.FOLLOWER
    assert c.nodes[4].term == term
    assert not any(isinstance(m, RequestVote) and m.src == 4 for m in c.sent)


def test_propose_on_follower_raises_with_leader_hint():
    """Goal: NotLeaderError names the leader so clients can redirect."""
    c = Cluster(3, seed=4)
    leader = c.elect()
    follower = next(i for i in c.nodes if i != leader)
    with pytest.raises(NotLeaderError) as err:
        c.nodes[follower].propose(b"x")
    assert err.value.leader_id == leader


def test_illegal_transition_is_an_assertion():
    """Goal: the transition table is enforced (leader -> candidate is illegal)."""
    c = Cluster(1)
    c.elect()
    with pytest.raises(AssertionError):
        c.nodes[1]._transition(Role.CANDIDATE, "test")


def test_bad_config_is_a_typed_error():
    """Goal: out-of-range settings raise RaftConfigError, not asserts."""
    with pytest.raises(RaftConfigError):
        RaftConfig(election_timeout_ticks=2, heartbeat_ticks=2)
    with pytest.raises(RaftConfigError):
        RaftConfig(inflight_msgs_max=0)
