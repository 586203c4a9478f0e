"""The active controller service, driven by a fake Raft handle (no network,
no disk, trio's MockClock): activation on leadership, one entry per
decision answered after apply, term fencing, session timeouts."""

from __future__ import annotations

import random

import pytest
import trio

from rafka.broker.controller import requests as rq
from rafka.broker.controller.config import ControllerConfig
from rafka.broker.controller.controller import Controller
from rafka.broker.controller.service import ControllerService, ControllerServiceConfig, Leadership
from rafka.broker.metadata.records import decode_records
from rafka.broker.metadata.state_machine import MetadataStateMachine
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.raft.errors import NotLeaderError, RaftError
from rafka.raft.types import Entry, EntryKind


class FakeRaft:
    """A one-node 'quorum' whose leadership the test flips. Committed
    entries are applied to the state machine in order, like the driver."""

    def __init__(self, sm: MetadataStateMachine, node_id: int = 1) -> None:
        self.sm = sm
        self.node_id = node_id
        self.is_leader = False
        self.term = 0
        self.leader_id: int | None = None
        self.index = 0
        self.entries: list[Entry] = []
        self.hold: trio.Event | None = None  # block commits while set
        self.fail_next: Exception | None = None
        self.barriers = 0

    def leadership(self) -> Leadership:
        return Leadership(self.is_leader, self.term, self.leader_id)

    def elect(self) -> None:
        self.term += 1
        self.is_leader = True
        self.leader_id = self.node_id

    def lose(self, leader_id: int | None = 2) -> None:
        self.term += 1
        self.is_leader = False
        self.leader_id = leader_id

    def _append(self, data: bytes, term: int) -> Entry:
        self.index += 1
        entry = Entry(term, self.index, EntryKind.NORMAL, data)
        self.entries.append(entry)
        return entry

    async def propose(self, data: bytes, *, term: int) -> int:
        if not self.is_leader or term != self.term:
            raise NotLeaderError(self.leader_id)
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            self._append(data, term)
            raise exc
        entry = self._append(data, term)
        if self.hold is not None:
            await self.hold.wait()
        self.sm.apply(entry)
        return entry.index

    def commit_external(self, records) -> None:
        """Another leader's entry arriving by replication."""
        from rafka.broker.metadata.records import encode_records

        self.sm.apply(self._append(encode_records(records), self.term))

    async def read_barrier(self) -> None:
        self.barriers += 1
        if self.leader_id is None:
            raise NotLeaderError(None)
        await trio.sleep(0)  # wait-ok: a checkpoint, as a real barrier yields
        # The fake applies on append, so applied == log end already.


SESSION_MS = 3000


def make_service(node_id: int = 1, **cfg):
    sm = MetadataStateMachine()
    raft = FakeRaft(sm, node_id)
    controller = Controller(node_id, ControllerConfig(session_timeout_ms=SESSION_MS,
                                                      preferred_election_interval_ms=1000),
                            random.Random(7))
    service = ControllerService(node_id, raft, sm, controller,
                                ControllerServiceConfig(tick_interval_ms=100, leadership_poll_ms=20, **cfg))
    return service, raft, sm


async def wait_until(pred, timeout_s: float = 10.0, what: str = "condition") -> None:
    with trio.move_on_after(timeout_s):
        while not pred():
            await trio.sleep(0.01)  # wait-ok: poll interval (mock clock, deadline above)
        return
    raise AssertionError(f"timed out waiting for {what}")


async def register_and_unfence(service, node_ids) -> dict[int, int]:
    epochs = {}
    for n in node_ids:
        resp = await service.submit(rq.BrokerRegistrationRequest(n, f"inc-{n}", "127.0.0.1", 9000 + n), 5)
        epochs[n] = resp.broker_epoch
    for n in node_ids:
        await service.submit(rq.BrokerHeartbeatRequest(n, epochs[n], service.image.offset), 5)
    return epochs


async def test_follower_refuses_with_not_controller(nursery, autojump_clock):
    """Goal: a node that does not lead the quorum never decides; it answers
    NOT_CONTROLLER naming the leader, and proposes nothing."""
    service, raft, _ = make_service()
    raft.leader_id = 3
    await nursery.start(service.run)
    with pytest.raises(RafkaError) as err:
        await service.submit(rq.ListTopicsRequest(), 1)
    assert err.value.code == ErrorCode.NOT_CONTROLLER
    assert "node 3" in err.value.message
    assert raft.entries == []


async def test_leader_activates_and_commits_one_entry_per_request(nursery, autojump_clock):
    """Goal: once leader (after a barrier) the service decides; a create
    with several partitions is ONE entry, answered after it is applied."""
    service, raft, sm = make_service()
    await nursery.start(service.run)
    raft.elect()
    await wait_until(service.is_active, what="activation")
    assert raft.barriers >= 1
    await register_and_unfence(service, [1, 2, 3])
    before = len(raft.entries)
    resp = await service.submit(rq.CreateTopicsRequest([rq.CreatableTopic("orders", 6, 3)]), 5)
    assert resp.results[0].error_code == 0
    assert len(raft.entries) == before + 1
    records = decode_records(raft.entries[-1].data)
    assert len(records) == 1 + 6  # TopicRecord + 6 PartitionRecords, atomically
    # Answered only after apply: the image already has it.
    t = sm.image.topic("orders")
    assert t is not None and len(t.partitions) == 6


async def test_invalid_request_proposes_nothing(nursery, autojump_clock):
    """Goal: a rejected request changes nothing: no entry, error per item."""
    service, raft, sm = make_service()
    await nursery.start(service.run)
    raft.elect()
    await wait_until(service.is_active)
    await register_and_unfence(service, [1, 2])
    before = len(raft.entries)
    resp = await service.submit(rq.CreateTopicsRequest([rq.CreatableTopic("t", 1, 5)]), 5)
    assert resp.results[0].error_code == ErrorCode.INVALID_REPLICATION_FACTOR
    assert len(raft.entries) == before
    assert sm.image.topic("t") is None


async def test_lost_leadership_stops_deciding_and_fences_old_term(nursery, autojump_clock):
    """Goal: losing leadership deactivates the controller at once; the
    request whose entry was in flight gets REQUEST_TIMED_OUT (maybe), later
    ones NOT_CONTROLLER, and nothing is ever proposed with a stale term."""
    service, raft, sm = make_service()
    await nursery.start(service.run)
    raft.elect()
    await wait_until(service.is_active)
    await register_and_unfence(service, [1])
    raft.hold = trio.Event()
    outcome = {}

    async def create():
        try:
            await service.submit(rq.CreateTopicsRequest([rq.CreatableTopic("a", 1, 1)]), 5)
            outcome["a"] = "ok"
        except RafkaError as exc:
            outcome["a"] = exc.code

    nursery.start_soon(create)
    await wait_until(lambda: raft.entries and decode_records(raft.entries[-1].data)[0].__class__.__name__
                     == "TopicRecord", what="the proposal")
    term_before = raft.term
    raft.lose(leader_id=2)
    await wait_until(lambda: "a" in outcome, what="the in-flight request's answer")
    assert outcome["a"] == ErrorCode.REQUEST_TIMED_OUT
    assert not service.is_active()
    with pytest.raises(RafkaError) as err:
        await service.submit(rq.DeleteTopicsRequest(["a"]), 1)
    assert err.value.code == ErrorCode.NOT_CONTROLLER
    # No proposal carries a term the node did not lead when proposing.
    assert all(e.term <= term_before for e in raft.entries)
    raft.hold.set()


async def test_reelection_reactivates_with_fresh_sessions(nursery, autojump_clock):
    """Goal: a new term gives every broker a fresh session, so a failover
    longer than the session timeout does not fence healthy brokers."""
    service, raft, sm = make_service()
    await nursery.start(service.run)
    raft.elect()
    await wait_until(service.is_active)
    await register_and_unfence(service, [1, 2])
    raft.lose(leader_id=None)
    await wait_until(lambda: not service.is_active())
    await trio.sleep(SESSION_MS / 1000 * 2)  # mock time: a long leaderless gap
    raft.elect()
    await wait_until(service.is_active)
    assert service.activations == 2
    await trio.sleep(SESSION_MS / 1000 / 2)
    assert not sm.image.brokers[2].fenced


async def test_session_timeout_fences_silent_broker(nursery, autojump_clock):
    """Goal: a broker that stops heartbeating is fenced by the periodic
    tick within its session timeout; one that keeps heartbeating is not."""
    service, raft, sm = make_service()
    await nursery.start(service.run)
    raft.elect()
    await wait_until(service.is_active)
    epochs = await register_and_unfence(service, [1, 2, 3])
    await service.submit(rq.CreateTopicsRequest([rq.CreatableTopic("t", 3, 3)]), 5)
    led_by_2 = sm.image.partitions_led_by(2)
    assert led_by_2
    start = trio.current_time()

    async def keep_alive(n):
        while True:
            await service.submit(rq.BrokerHeartbeatRequest(n, epochs[n], sm.image.offset), 5)
            await trio.sleep(0.5)  # wait-ok: a broker's heartbeat interval

    async with trio.open_nursery() as hb:
        hb.start_soon(keep_alive, 1)
        hb.start_soon(keep_alive, 3)
        await wait_until(lambda: sm.image.brokers[2].fenced, timeout_s=SESSION_MS / 1000 + 1,
                         what="broker 2 fenced")
        hb.cancel_scope.cancel()
    assert trio.current_time() - start <= SESSION_MS / 1000 + 0.5
    assert not sm.image.brokers[1].fenced and not sm.image.brokers[3].fenced
    assert sm.image.partitions_led_by(2) == frozenset()
    for t, p in led_by_2:
        s = sm.image.partition(t, p)
        assert 2 not in s.isr and s.leader_epoch >= 1


async def test_unknown_proposal_outcome_resettles_before_deciding(nursery, autojump_clock):
    """Goal: when a proposal's outcome is unknown the client hears
    REQUEST_TIMED_OUT and the controller re-activates (barrier) before it
    decides again."""
    service, raft, sm = make_service()
    await nursery.start(service.run)
    raft.elect()
    await wait_until(service.is_active)
    await register_and_unfence(service, [1])
    barriers = raft.barriers
    raft.fail_next = RaftError("driver hiccup")
    with pytest.raises(RafkaError) as err:
        await service.submit(rq.CreateTopicsRequest([rq.CreatableTopic("x", 1, 1)]), 5)
    assert err.value.code == ErrorCode.REQUEST_TIMED_OUT
    await wait_until(lambda: service.is_active() and raft.barriers > barriers, what="re-activation")
    resp = await service.submit(rq.CreateTopicsRequest([rq.CreatableTopic("y", 1, 1)]), 5)
    assert resp.results[0].error_code == 0


async def test_queue_bound(nursery, autojump_clock):
    """Goal: the request queue is bounded: beyond requests_queued_max a
    request is refused at once instead of buffering without limit."""
    service, raft, sm = make_service(requests_queued_max=2)
    await nursery.start(service.run)
    raft.elect()
    await wait_until(service.is_active)
    await register_and_unfence(service, [1])
    raft.hold = trio.Event()
    errors = []

    async def create(i):
        try:
            await service.submit(rq.CreateTopicsRequest([rq.CreatableTopic(f"q{i}", 1, 1)]), 30)
        except RafkaError as exc:
            errors.append(exc.code)

    async with trio.open_nursery() as n:
        for i in range(6):
            n.start_soon(create, i)
        await wait_until(lambda: errors, what="a refusal")
        raft.hold.set()
    assert ErrorCode.REQUEST_TIMED_OUT in errors


async def test_unfenced_broker_gets_preferred_leaderships_back_at_once(nursery, autojump_clock):
    """Goal: when a restarted broker is unfenced, the controller moves its
    preferred leaderships back right away (the next decision), not at the
    next periodic imbalance check, which is an hour away here."""
    sm = MetadataStateMachine()
    raft = FakeRaft(sm, 1)
    controller = Controller(1, ControllerConfig(session_timeout_ms=SESSION_MS,
                                                preferred_election_interval_ms=3_600_000),
                            random.Random(7))
    service = ControllerService(1, raft, sm, controller,
                                ControllerServiceConfig(tick_interval_ms=100, leadership_poll_ms=20))
    await nursery.start(service.run)
    raft.elect()
    await wait_until(service.is_active)
    await register_and_unfence(service, [1, 2, 3])
    await service.submit(rq.CreateTopicsRequest([rq.CreatableTopic("t", 6, 3)]), 5)
    topic_id = sm.image.topic("t").topic_id
    preferred_2 = {(topic_id, p) for p in range(6) if sm.image.partition(topic_id, p).replicas[0] == 2}
    assert preferred_2 and sm.image.partitions_led_by(2) == preferred_2

    # Broker 2 restarts: a new incarnation registers (fenced, leaderships
    # moved), then its first heartbeat unfences it.
    resp = await service.submit(rq.BrokerRegistrationRequest(2, "inc-2b", "127.0.0.1", 9002), 5)
    assert sm.image.partitions_led_by(2) == frozenset()
    await service.submit(rq.BrokerHeartbeatRequest(2, resp.broker_epoch, sm.image.offset), 5)
    assert not sm.image.brokers[2].fenced
    await wait_until(lambda: sm.image.partitions_led_by(2) == preferred_2, timeout_s=1.0,
                     what="preferred leaderships back on broker 2")
    assert service.prompt_preferred_elections >= 1


async def test_decisions_are_logged_with_the_raft_term(nursery, autojump_clock):
    """Goal: the active controller's decision events carry the Raft term it
    leads, so a reader can tell which controller decided; activation on an
    empty image says so (offset None, not -1)."""
    from structlog.testing import capture_logs

    service, raft, _ = make_service()
    await nursery.start(service.run)
    raft.elect()
    raft.elect()  # term 2
    with capture_logs() as logs:
        await wait_until(service.is_active, what="activation")
        await register_and_unfence(service, [1, 2])
        await service.submit(rq.CreateTopicsRequest([rq.CreatableTopic("orders", 2, 2)]), 5)
    [activated] = [e for e in logs if e["event"] == "controller.activated"]
    assert activated["term"] == 2 and activated["metadata_offset"] is None
    decided = [e for e in logs if e["event"] in ("controller.broker_registered", "controller.broker_unfenced",
                                                 "controller.topic_created")]
    assert len(decided) == 5 and all(e["term"] == 2 for e in decided)
