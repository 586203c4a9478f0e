"""Unit tests for broker/membership.py: the address book, the add/remove
voter refusal rules and the JoinAsObserver / voter-change handlers against
a fake Raft driver."""

from __future__ import annotations

import pytest

from rafka.broker.node.address_book import AddressBook, MembershipError, parse_addr
from rafka.broker.node.membership import MembershipService
from rafka.broker.node.voter_policy import add_voter_refusal, remove_voter_refusal
from rafka.raft.status import PeerStatus, RaftStatus
from rafka.broker.node.messages import AddVoterRequest, JoinAsObserverRequest, RemoveVoterRequest
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.raft.errors import ConfChangeError
from rafka.raft.types import ConfChangeKind

TIMEOUT = 10


def leader_status(voters=(1, 2, 3), learners=(), commit=10):
    return RaftStatus(
        node_id=1, role="leader", leader_id=1, term=2, commit_index=commit,
        voters=list(voters), learners=list(learners), election_timeout_ticks=TIMEOUT,
        peers={i: PeerStatus(match_index=commit, last_contact_ticks=0) for i in (*voters, *learners)},
    )


def test_address_book_static_entries_win_and_size_is_bounded():
    """Goal: an announced address never replaces a static voters-table entry
    (a harness's proxy stays in use), new ids are learned, and the book
    refuses ids past its limit."""
    book = AddressBook({1: ("127.0.0.1", 9001)}, entries_max=2)
    assert not book.learn(1, ("10.0.0.9", 1))
    assert book.get(1) == ("127.0.0.1", 9001)
    assert book.learn(4, ("127.0.0.1", 9004))
    assert book.get(4) == ("127.0.0.1", 9004) and book.address_text(4) == "127.0.0.1:9004"
    assert book.peer_table() == {"1": "127.0.0.1:9001", "4": "127.0.0.1:9004"}
    with pytest.raises(MembershipError):
        book.learn(5, ("127.0.0.1", 9005))
    with pytest.raises(MembershipError):
        parse_addr("no-port")


def test_add_voter_refusals():
    """Goal: only a caught-up, recently heard learner may be promoted."""
    assert "already a voter" in add_voter_refusal(leader_status(), 2)
    assert "not an observer" in add_voter_refusal(leader_status(), 4)
    lagging = leader_status(learners=(4,))
    lagging.peers[4].match_index = 3
    assert "not caught up" in add_voter_refusal(lagging, 4)
    silent = leader_status(learners=(4,))
    silent.peers[4].last_contact_ticks = TIMEOUT
    assert "not caught up" in add_voter_refusal(silent, 4)
    assert add_voter_refusal(leader_status(learners=(4,)), 4) is None


def test_remove_voter_refusals():
    """Goal: removing a non-voter, the last voter, or a voter whose removal
    leaves no reachable majority is refused; a safe removal is allowed."""
    assert "not a voter" in remove_voter_refusal(leader_status(), 9)
    assert "last voter" in remove_voter_refusal(leader_status(voters=(1,)), 1)
    st = leader_status(voters=(1, 2, 3, 4))
    st.peers[3].last_contact_ticks = TIMEOUT
    st.peers[4].last_contact_ticks = TIMEOUT
    assert "no quorum" in remove_voter_refusal(st, 2)  # {1,3,4}: only 1 live
    assert remove_voter_refusal(leader_status(), 3) is None


class FakeDriver:
    def __init__(self, status):
        self.st = status
        self.changes = []
        self.error = None
        self.term = status.term

    def status(self):
        return self.st

    async def propose_conf_change(self, kind, node_id, timeout_s):
        if self.error is not None:
            raise self.error
        self.changes.append((ConfChangeKind(kind), node_id))
        if kind == ConfChangeKind.ADD_LEARNER:
            self.st.learners.append(node_id)
        elif kind == ConfChangeKind.ADD_VOTER:
            self.st.learners.remove(node_id)
            self.st.voters.append(node_id)


def service(driver, book=None):
    async def no_call(*a):
        raise AssertionError("no peer call expected")

    return MembershipService(1, driver, book or AddressBook({1: ("h", 1)}), call_peer=no_call, forward=no_call,
                             announce=False, peer_address="h:1")


async def test_join_on_leader_learns_address_and_adds_learner():
    """Goal: the leader records a joiner's address, proposes add_learner
    once, and answers member=True with its address book."""
    driver = FakeDriver(leader_status())
    svc = service(driver)
    resp = await svc.handle_join(JoinAsObserverRequest(4, "127.0.0.1:9004"))
    assert resp.member and resp.peer_addresses["4"] == "127.0.0.1:9004"
    assert driver.changes == [(ConfChangeKind.ADD_LEARNER, 4)]
    await svc.handle_join(JoinAsObserverRequest(4, "127.0.0.1:9004"))
    assert len(driver.changes) == 1  # already a member: no second proposal


async def test_join_on_follower_only_learns_address():
    """Goal: a follower records the address but proposes nothing."""
    st = leader_status()
    st.role, st.leader_id = "follower", 2
    driver = FakeDriver(st)
    svc = service(driver)
    resp = await svc.handle_join(JoinAsObserverRequest(4, "127.0.0.1:9004"))
    assert not resp.member and resp.leader_id == 2 and driver.changes == []
    assert svc.book.get(4) == ("127.0.0.1", 9004)


async def test_voter_changes_refused_with_typed_errors():
    """Goal: refusals become INVALID_REQUEST (one line, nothing proposed), a
    core refusal too, and a non-leader peer answers NOT_CONTROLLER."""
    driver = FakeDriver(leader_status())
    svc = service(driver)
    with pytest.raises(RafkaError) as exc:
        await svc.handle_tool_change(AddVoterRequest(4))
    assert exc.value.code == ErrorCode.INVALID_REQUEST and driver.changes == []
    driver.st.learners.append(4)
    driver.st.peers[4] = PeerStatus(match_index=10, last_contact_ticks=0)
    driver.error = ConfChangeError("another configuration change is in progress")
    with pytest.raises(RafkaError) as exc:
        await svc.handle_tool_change(AddVoterRequest(4))
    assert exc.value.code == ErrorCode.INVALID_REQUEST and "in progress" in exc.value.message
    driver.error = None
    resp = await svc.handle_tool_change(AddVoterRequest(4))
    assert sorted(resp.voters) == [1, 2, 3, 4] and resp.observers == []
    driver.st.role, driver.st.leader_id = "follower", 2
    with pytest.raises(RafkaError) as exc:
        await svc.handle_peer_change(RemoveVoterRequest(3))
    assert exc.value.code == ErrorCode.NOT_CONTROLLER
