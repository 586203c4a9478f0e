"""The active controller: the pure `Controller` driven on the Raft leader.

Why a service: the controller's decisions are pure (broker/controller/), but
someone must decide *when* this node may decide at all, feed it requests and
ticks one at a time, and turn its records into Raft entries. That is this
module, the only one that proposes metadata records.

Lifecycle (one loop, `run`):
- follower: poll leadership every `leadership_poll_ms`;
- leader of term T: first a ReadIndex barrier (the image then holds every
  entry committed by earlier leaders, since a leader's no-op of term T commits
  its whole log), then `Controller.activate` (every registered broker gets a
  fresh session) and the decision loop runs until leadership of T is lost;
- the moment the watcher sees another role or term it deactivates the
  controller and cancels the loop; queued requests get NOT_CONTROLLER.

Invariants:
- Decisions are serialized: one task decides, proposes the records as ONE
  Raft entry and waits until that entry is committed *and applied* before it
  decides again, so every decision reads an image holding every earlier
  decision (the pure controller's contract).
- A proposal carries the term it was decided in; `RaftHandle.propose`
  refuses it once this node no longer leads that term, so a decision made
  on a stale image never reaches the log.
- Right after an entry unfences a broker (or a leader changes an ISR on
  AlterPartition) is applied, the next decision is a preferred-leader
  election, so a restarted broker gets its preferred leaderships back
  without waiting for the controller's periodic check.
- Peer connections: the node tells `broker_connection_lost(node_id)` when
  a broker's last peer connection to this node was ended by the peer (its
  process is gone); the controller then fences it after its grace unless
  it heartbeats (broker/controller/brokers.py). `disconnected_brokers()`
  (set by the node) names such brokers at activation.
- A client is answered only after commit+apply; when the outcome is unknown
  (leadership lost after proposing) it gets REQUEST_TIMED_OUT, never a
  false NOT_CONTROLLER (which promises "nothing happened, retry").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Protocol

import structlog
import trio

from rafka.broker.controller import requests as rq
from rafka.broker.controller.controller import Controller
from rafka.broker.metadata.image import MetadataImage
from rafka.broker.metadata.records import Record, UnfenceBrokerRecord, encode_records
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.schema import Message
from rafka.raft.errors import NotLeaderError, ProposalDroppedError, RaftError

log = structlog.get_logger("rafka.controller_service")


class Leadership(NamedTuple):
    is_leader: bool
    term: int
    leader_id: int | None


class RaftHandle(Protocol):
    """What the controller service needs from the Raft driver.

    - `leadership()` is synchronous and current.
    - `propose(data, term=T)` appends one entry if this node still leads
      term T and returns once it is committed and applied to the local
      state machine. It raises NotLeaderError or ProposalDroppedError only
      when the entry surely was NOT appended; any other exception means the
      outcome is unknown.
    - `read_barrier()` returns once the local state machine has applied
      every entry committed before the call (ReadIndex); on the leader also
      every entry already in its own log (so a proposal whose outcome was
      unknown is settled before the controller decides again). Raises
      NotLeaderError when no leader can confirm it.
    """

    def leadership(self) -> Leadership: ...

    async def propose(self, data: bytes, *, term: int) -> object: ...

    async def read_barrier(self) -> None: ...


class StateMachineView(Protocol):
    image: MetadataImage


@dataclass(frozen=True)
class ControllerServiceConfig:
    # How often the periodic duties run (session timeouts, leaderless and
    # preferred-leader elections; the pure controller rate-limits the latter).
    tick_interval_ms: int = 200
    # How quickly a lost leadership is noticed (besides the term check on
    # every proposal).
    leadership_poll_ms: int = 50
    # Requests waiting for the decision loop; more get REQUEST_TIMED_OUT.
    requests_queued_max: int = 256
    # Barrier at activation; on timeout the service tries again.
    activation_timeout_ms: int = 10_000

    def __post_init__(self) -> None:
        for name in ("tick_interval_ms", "leadership_poll_ms", "requests_queued_max",
                     "activation_timeout_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"controller service {name} must be >= 1")


def now_ms() -> int:
    """The controller's clock: trio's (MockClock in tests)."""
    return int(trio.current_time() * 1000)


def not_controller(node_id: int, leader_id: int | None) -> RafkaError:
    hint = f"; the leader is node {leader_id}" if leader_id is not None else "; no leader known"
    return RafkaError(ErrorCode.NOT_CONTROLLER, f"node {node_id} is not the active controller{hint}")


class _Pending:
    """One request waiting for its decision. `proposed` records whether its
    records may have reached the log (then a failure is "unknown")."""

    __slots__ = ("request", "event", "response", "error", "proposed", "abandoned")

    def __init__(self, request: Message) -> None:
        self.request = request
        self.event = trio.Event()
        self.response: Message | None = None
        self.error: RafkaError | None = None
        self.proposed = False
        self.abandoned = False

    def succeed(self, response: Message | None) -> None:
        if not self.event.is_set():
            self.response = response
            self.event.set()

    def fail(self, error: RafkaError) -> None:
        if not self.event.is_set():
            self.error = error
            self.event.set()


class _TermEnded(Exception):
    """Internal: this node no longer leads the term it decided in."""


class ControllerService:
    def __init__(
        self,
        node_id: int,
        raft: RaftHandle,
        state_machine: StateMachineView,
        controller: Controller,
        config: ControllerServiceConfig | None = None,
    ) -> None:
        self.node_id = node_id
        self.raft = raft
        self.state_machine = state_machine
        self.controller = controller
        self.config = config or ControllerServiceConfig()
        self._term: int | None = None
        self._send: trio.MemorySendChannel | None = None
        self._current: _Pending | None = None
        # Why a prompt preferred election is due (None: not due).
        self._preferred_due: str | None = None
        self.activations = 0
        self.prompt_preferred_elections = 0
        self.active_changed = trio.Event()  # set (then replaced) on (de)activation
        # () -> node ids whose peer connections to this node are all gone
        # (the node's PeerConnections.gone); read at activation.
        self.disconnected_brokers: Callable[[], list[int]] = list

    def broker_connection_lost(self, node_id: int) -> None:
        """The last peer connection of `node_id` was ended by the peer. The
        pure controller starts the grace (a no-op unless active); the fence
        itself is a tick's decision, committed like any other."""
        if self._term is not None:
            self.controller.broker_connection_lost(self.image, node_id, now_ms())

    # ---------------------------------------------------------------- reads
    @property
    def image(self) -> MetadataImage:
        return self.state_machine.image

    @property
    def active_term(self) -> int | None:
        return self._term

    def is_active(self) -> bool:
        """True while this node is the active controller (leader of the term
        it activated in, barrier passed)."""
        if self._term is None:
            return False
        lead = self.raft.leadership()
        return lead.is_leader and lead.term == self._term

    def leader_id(self) -> int | None:
        return self.raft.leadership().leader_id

    # ------------------------------------------------------------- requests
    async def submit(self, request: Message, timeout_s: float) -> Message | None:
        """Have the active controller decide `request`; returns the response
        once its records are committed and applied. Raises RafkaError:
        NOT_CONTROLLER (surely not done; retry at the leader), the
        controller's own errors, or REQUEST_TIMED_OUT (maybe done)."""
        send = self._send
        if send is None or not self.is_active():
            raise not_controller(self.node_id, self.leader_id())
        item = _Pending(request)
        try:
            send.send_nowait(item)
        except trio.WouldBlock:
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT,
                             f"controller queue full ({self.config.requests_queued_max} waiting)") from None
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise not_controller(self.node_id, self.leader_id()) from None
        with trio.move_on_after(timeout_s):
            await item.event.wait()
        if not item.event.is_set():
            item.abandoned = True
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT,
                             f"{request.TYPE}: no decision within {timeout_s}s (it may still happen)")
        if item.error is not None:
            raise item.error
        return item.response

    # ------------------------------------------------------------ lifecycle
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled: be the active controller whenever this node
        leads the Raft quorum."""
        task_status.started()
        poll_s = self.config.leadership_poll_ms / 1000
        while True:
            lead = self.raft.leadership()
            if lead.is_leader:
                await self._serve_term(lead.term)
            await trio.sleep(poll_s)

    async def _serve_term(self, term: int) -> None:
        send, recv = trio.open_memory_channel[_Pending](self.config.requests_queued_max)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch, term, nursery.cancel_scope)
                if not await self._activate(term):
                    nursery.cancel_scope.cancel()
                    return
                self._send = send
                try:
                    await self._decide_loop(term, recv)
                except _TermEnded:
                    pass
                nursery.cancel_scope.cancel()
        finally:
            self._deactivate(term, "leadership lost")
            send.close()
            self._fail_queued(recv)

    async def _activate(self, term: int) -> bool:
        with trio.move_on_after(self.config.activation_timeout_ms / 1000) as scope:
            try:
                await self.raft.read_barrier()
            except RaftError as exc:
                log.info("controller.activation_failed", node_id=self.node_id, term=term, error=repr(exc))
                return False
        if scope.cancelled_caught:
            log.warning("controller.activation_timeout", node_id=self.node_id, term=term)
            return False
        lead = self.raft.leadership()
        if not lead.is_leader or lead.term != term:
            return False
        # Logs "controller.activated" with the term and what the image holds.
        self.controller.activate(self.image, now_ms(), term=term, disconnected=self.disconnected_brokers())
        # A new controller starts with a preferred election: whoever was
        # unfenced under the old one may still lead nothing.
        self._preferred_due = "preferred leader election on becoming the active controller"
        self._term = term
        self.activations += 1
        self._notify()
        return True

    def _deactivate(self, term: int, reason: str) -> None:
        was_active = self._term is not None
        self._term = None
        self._send = None
        self.controller.deactivate()
        current = self._current
        self._current = None
        if current is not None:
            if current.proposed:
                current.fail(RafkaError(ErrorCode.REQUEST_TIMED_OUT,
                                        f"controller lost leadership of term {term} after proposing; "
                                        "the change may or may not be applied"))
            else:
                current.fail(not_controller(self.node_id, self.leader_id()))
        if was_active:
            self._notify()
            log.info("controller.inactive", node_id=self.node_id, term=term, reason=reason)

    def _notify(self) -> None:
        self.active_changed.set()
        self.active_changed = trio.Event()

    def _fail_queued(self, recv: trio.MemoryReceiveChannel) -> None:
        while True:
            try:
                item = recv.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
            item.fail(not_controller(self.node_id, self.leader_id()))
        recv.close()

    async def _watch(self, term: int, scope: trio.CancelScope) -> None:
        """Stop deciding the moment leadership of `term` is gone."""
        poll_s = self.config.leadership_poll_ms / 1000
        while True:
            lead = self.raft.leadership()
            if not lead.is_leader or lead.term != term:
                self._deactivate(term, f"role changed (leader_id={lead.leader_id}, term={lead.term})")
                scope.cancel()
                return
            await trio.sleep(poll_s)

    # ------------------------------------------------------------ decisions
    def _check_term(self, term: int) -> None:
        lead = self.raft.leadership()
        if self._term != term or not lead.is_leader or lead.term != term:
            raise _TermEnded()

    async def _decide_loop(self, term: int, recv: trio.MemoryReceiveChannel) -> None:
        tick_ms = self.config.tick_interval_ms
        next_tick_ms = now_ms()
        while True:
            now = now_ms()
            if self._preferred_due:
                reason = self._preferred_due
                self._preferred_due = None
                await self._elect_preferred(term, now, reason)
                continue
            if now >= next_tick_ms:
                next_tick_ms = now + tick_ms
                self._check_term(term)
                records = self.controller.tick(self.image, now)
                if records:
                    await self._commit(term, records, None)
                continue
            item: _Pending | None = None
            with trio.move_on_after((next_tick_ms - now) / 1000):
                item = await recv.receive()
            if item is None or item.abandoned:
                continue
            await self._decide(term, item)

    async def _elect_preferred(self, term: int, now: int, reason: str) -> None:
        """A preferred-leader election now (after an unfence or ISR change),
        decided like any other request, on an image holding that change.
        The controller logs each leader change with `reason`."""
        self._check_term(term)
        request = rq.ElectLeadersRequest(election_type="preferred", partitions=None)
        try:
            decision = self.controller.handle(self.image, request, now, reason=reason)
        except RafkaError as exc:
            log.info("controller.prompt_preferred_failed", node_id=self.node_id, term=term, error=exc.code.name)
            return
        if decision.records:
            self.prompt_preferred_elections += 1
            await self._commit(term, decision.records, None)

    def _note_committed(self, records: list[Record], request: Message | None) -> None:
        unfenced = [r.node_id for r in records if isinstance(r, UnfenceBrokerRecord)]
        if unfenced:
            ids = ",".join(str(n) for n in unfenced)
            self._preferred_due = f"preferred leader election after broker {ids} was unfenced"
        elif isinstance(request, rq.AlterPartitionRequest):
            self._preferred_due = (f"preferred leader election after the ISR of "
                                   f"{request.topic}-{request.partition} changed")

    async def _decide(self, term: int, item: _Pending) -> None:
        self._check_term(term)
        self._current = item
        try:
            decision = self.controller.handle(self.image, item.request, now_ms())
        except RafkaError as exc:
            item.fail(exc)
            self._current = None
            return
        if decision.records:
            await self._commit(term, decision.records, item)
        item.succeed(decision.response)
        self._current = None

    async def _commit(self, term: int, records: list[Record], item: _Pending | None) -> None:
        """Propose `records` as one entry of `term`; return once applied."""
        data = encode_records(records)
        self._check_term(term)
        try:
            if item is not None:
                item.proposed = True
            await self.raft.propose(data, term=term)
            self._note_committed(records, None if item is None else item.request)
        except (NotLeaderError, ProposalDroppedError) as exc:
            # Surely not appended: nothing happened.
            if item is not None:
                item.proposed = False
            log.info("controller.proposal_refused", node_id=self.node_id, term=term, error=repr(exc))
            if isinstance(exc, NotLeaderError):
                raise _TermEnded() from None
            if item is not None:
                item.fail(not_controller(self.node_id, self.leader_id()))
                self._current = None
            return
        except Exception as exc:  # outcome unknown: stop deciding on this image
            log.warning("controller.proposal_failed", node_id=self.node_id, term=term, error=repr(exc))
            raise _TermEnded() from None
