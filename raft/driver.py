"""RaftDriver: runs one RaftCore under trio (the only raft module that touches
trio, threads and time).

Usage (inside a nursery; the node wires `transport` to its peer listener and
calls `deliver` for each Raft message it receives):

    driver = RaftDriver(core, storage, transport, state_machine, tick_ms=50, node_id=1)
    await nursery.start(driver.run)
    result = await driver.propose(b"...", timeout_s=5)   # committed + applied
    results = await driver.propose_batch([b"a", b"b"], timeout_s=5)  # one go
    await driver.read_index(timeout_s=5)                 # linearizable read barrier
    await driver.transfer_leadership(2, timeout_s=5)
    driver.status()

How it works: one loop task owns the core. Peer messages (`deliver`, never
blocks, drops when the inbox is full) and local requests (propose, read,
transfer, conf change; they wait for inbox space) travel through ONE bounded
memory channel, so the core is only touched by the loop. For each Ready the
loop: sends the leader's pipelined appends (`core.messages_before_persist`:
followers persist in parallel with us; our own copy counts toward commit
only after `advance`), persists (snapshot, entries, one fsync, hard state;
in a worker thread when the storage does disk I/O), THEN sends the other
messages, then restores a received snapshot / applies committed entries to
the state machine, resolves waiters, advances the core, and snapshots +
compacts every `snapshot_entries_max` applied entries. A batch proposal is
one inbox item, one append and one waiter, whatever its size. Ticks come
from trio.sleep-based deadlines, so trio's MockClock drives them in tests.
The waiters of local requests and the apply-and-resolve step live in
raft.driver_waiters (PendingWaiters), called only from the loop task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import structlog
import trio

from rafka.raft.core import RaftCore
from rafka.raft.driver_waiters import PendingWaiters, Waiter
from rafka.raft.errors import DriverStoppedError, NotLeaderError, RaftError, RaftTimeoutError
from rafka.raft.types import ConfChangeKind, Ready, Role
from rafka.raft.status import RaftStatus


class Transport(Protocol):
    def send(self, msg) -> None:
        """Queue msg for its `dst`; never blocks; may drop (Raft retries)."""
        ...


class StateMachine(Protocol):
    def apply(self, entry) -> Any:
        """Apply one committed NORMAL entry; the result goes to its proposer."""
        ...

    def snapshot(self) -> bytes: ...

    def restore(self, data: bytes) -> None: ...


@dataclass(frozen=True)
class DriverLimits:
    inbox_max: int = 1024  # peer messages + local requests queued for the loop
    pending_proposals_max: int = 4096  # proposals/conf changes awaiting apply
    pending_reads_max: int = 4096
    snapshot_entries_max: int = 10_000  # snapshot after this many applied entries
    catchup_entries: int = 1_000  # entries kept below a snapshot for slow followers


class RaftDriver:
    def __init__(
        self,
        core: RaftCore,
        storage,
        transport: Transport,
        state_machine: StateMachine,
        *,
        tick_ms: int,
        node_id: int,
        logger=None,
        limits: DriverLimits | None = None,
    ) -> None:
        if tick_ms <= 0:
            raise ValueError(f"tick_ms must be positive, got {tick_ms}")
        self.core = core
        self.storage = storage
        self.transport = transport
        self.state_machine = state_machine
        self.tick_ms = tick_ms
        self.node_id = node_id
        self.limits = limits or DriverLimits()
        self.logger = (logger or structlog.get_logger("rafka.raft")).bind(node_id=node_id)
        self._send_ch, self._recv_ch = trio.open_memory_channel(self.limits.inbox_max)
        self._waiters = PendingWaiters(
            core, node_id, self.limits.pending_proposals_max, self.limits.pending_reads_max
        )
        self._snapshot_index = storage.snapshot().meta.index
        hard_state, _ = storage.initial_state()
        self._durable_term_vote = (hard_state.term, hard_state.vote)
        self._running = False
        self.dropped_messages = 0

    # ------------------------------------------------------------ public API
    def deliver(self, msg) -> bool:
        """Hand a peer's Raft message to the loop; False (dropped) when the
        inbox is full or the driver is not running."""
        try:
            self._send_ch.send_nowait(("peer", msg))
            return True
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            self.dropped_messages += 1
            return False

    async def propose(self, data: bytes, timeout_s: float, expected_term: int | None = None) -> Any:
        """Replicate `data`; returns state_machine.apply's result once the
        entry is committed and applied here. With `expected_term`, the entry
        is appended only if this node leads exactly that term (checked
        atomically with the append). Raises NotLeaderError (with the leader
        hint) or ProposalDroppedError when the entry surely was not appended,
        RaftTimeoutError when the outcome is unknown (it may still commit)."""
        return await self._request(("propose", (bytes(data), expected_term)), timeout_s)

    async def propose_batch(
        self, datas: list[bytes], timeout_s: float, expected_term: int | None = None
    ) -> list[Any]:
        """Replicate `datas` as consecutive entries appended in one go (one
        inbox item, one core append, one waiter); returns state_machine.apply's
        result for each, in order, once the last is committed and applied.
        All or none are appended; errors as for `propose` (a batch larger
        than `pending_proposals_max` entries is refused with
        ProposalDroppedError)."""
        batch = list(datas)  # the core checks and copies only what is not bytes
        if not batch:
            return []
        return await self._request(("propose_batch", (batch, expected_term)), timeout_s)

    async def propose_conf_change(self, kind: ConfChangeKind | str, node_id: int, timeout_s: float) -> None:
        """One single-server membership change, waited until applied."""
        await self._request(("conf", (kind, node_id)), timeout_s)

    async def read_index(self, timeout_s: float) -> int:
        """Linearizable read barrier: returns the read index once this node
        has applied at least that far; reads of the state machine after this
        see every write acknowledged before the call."""
        return await self._request(("read", None), timeout_s)

    async def transfer_leadership(self, target: int, timeout_s: float) -> None:
        """Ask the leader (this node) to hand leadership to `target`; returns
        when this node sees `target` as leader."""
        await self._request(("transfer", target), timeout_s)

    @property
    def term(self) -> int:
        """The current term (cheap; `status()` builds a whole report)."""
        return self.core.term

    def status(self) -> RaftStatus:
        st = self.core.status()
        st.tick_ms = self.tick_ms
        st.dropped_messages = self.dropped_messages
        st.snapshot_index = self.storage.snapshot().meta.index
        return st

    async def _request(self, op: tuple, timeout_s: float) -> Any:
        if not self._running:
            raise DriverStoppedError("raft driver is not running")
        waiter = Waiter()
        with trio.move_on_after(timeout_s):
            await self._send_ch.send(("local", (op, waiter)))
            await waiter.event.wait()
        if not waiter.event.is_set():
            raise RaftTimeoutError(f"{op[0]} timed out after {timeout_s}s")
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    # ------------------------------------------------------------ the loop
    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        snap = self.storage.snapshot()
        if not snap.is_empty:
            self.state_machine.restore(snap.data)
        self._running = True
        self.logger.info("raft_driver_started", term=self.core.term, commit=self.core.log.committed)
        task_status.started()
        tick_s = self.tick_ms / 1000
        next_tick = trio.current_time() + tick_s
        try:
            while True:
                with trio.move_on_at(next_tick):
                    item = await self._recv_ch.receive()
                    self._handle(item)
                    while True:  # drain without blocking; the channel bounds it
                        try:
                            item = self._recv_ch.receive_nowait()
                        except trio.WouldBlock:
                            break
                        self._handle(item)
                now = trio.current_time()
                if now >= next_tick:
                    self.core.tick()
                    next_tick = max(next_tick + tick_s, now)
                while self.core.has_ready():
                    await self._handle_ready(self.core.ready())
        finally:
            self._running = False
            self._waiters.fail_all(DriverStoppedError("raft driver stopped"))

    def _handle(self, item) -> None:
        kind, payload = item
        if kind == "peer":
            self.core.step(payload)
            return
        (op, arg), waiter = payload
        waiters = self._waiters
        try:
            if op in ("propose", "propose_batch"):
                data, expected_term = arg
                if expected_term is not None and (
                    self.core.role != Role.LEADER or self.core.term != expected_term
                ):
                    raise NotLeaderError(self.core.leader_id, f"not the leader of term {expected_term}")
                if op == "propose":
                    waiters.add_proposal(waiter, lambda: self.core.propose(data))
                else:
                    waiters.add_batch(waiter, data)
            elif op == "conf":
                waiters.add_proposal(waiter, lambda: self.core.propose_conf_change(*arg))
            elif op == "read":
                waiters.add_read(waiter)
            elif op == "transfer":
                waiters.add_transfer(waiter, arg)
        except RaftError as exc:
            waiter.fail(exc)

    async def _handle_ready(self, rd: Ready) -> None:
        early = self.core.messages_before_persist(rd)
        send = self.transport.send
        for msg in early:
            send(msg)
        if rd.must_sync:
            if self._needs_io_thread(rd):
                await trio.to_thread.run_sync(self._persist, rd)
            else:
                self._persist(rd)
        for msg in rd.messages[len(early) :]:
            send(msg)
        if rd.soft_state is not None:
            self._on_soft_state(rd)
        for name, fields in rd.events:
            self._log_event(name, fields)
        if rd.snapshot is not None:
            self.state_machine.restore(rd.snapshot.data)
            self._snapshot_index = rd.snapshot.meta.index
            self.logger.info("raft_snapshot_restored", term=self.core.term, snapshot_index=rd.snapshot.meta.index)
        self._waiters.apply_committed(rd.committed_entries, self.state_machine)
        self._waiters.on_read_states(rd.read_states)
        self.core.advance(rd)
        self._waiters.release_reads(self.core.log.applied)
        await self._maybe_snapshot()

    def _needs_io_thread(self, rd: Ready) -> bool:
        """Only fsyncs go to a worker thread: a Ready that just moves the
        commit index (not fsynced by the storage contract) persists inline,
        saving two thread hops on the commit path."""
        if not getattr(self.storage, "io_in_thread", True):
            return False
        hs = rd.hard_state
        return bool(
            rd.entries
            or rd.snapshot is not None
            or (hs is not None and (hs.term, hs.vote) != self._durable_term_vote)
        )

    def _persist(self, rd: Ready) -> None:
        """Durable before any message of this Ready is sent (except the
        pipelined ones, see the module docstring)."""
        if rd.snapshot is not None:
            self.storage.apply_snapshot(rd.snapshot)
        if rd.entries:
            self.storage.append(rd.entries)
            self.storage.sync()
        if rd.hard_state is not None:
            self.storage.set_hard_state(rd.hard_state)
            self._durable_term_vote = (rd.hard_state.term, rd.hard_state.vote)

    def _log_event(self, name: str, fields: dict) -> None:
        """A decision the core reported (votes). Real votes at info; pre-votes,
        which a partitioned node repeats every election timeout, at debug."""
        emit = self.logger.debug if fields.get("pre_vote") else self.logger.info
        emit(f"raft_{name}", **fields)

    def _on_soft_state(self, rd: Ready) -> None:
        ss = rd.soft_state
        self.logger.info(
            "raft_role_changed", term=ss.term, role=ss.role.value, leader_id=ss.leader_id, reason=ss.reason
        )
        self._waiters.on_soft_state(ss)

    async def _maybe_snapshot(self) -> None:
        applied = self.core.log.applied
        if applied - self._snapshot_index < self.limits.snapshot_entries_max:
            return
        snap = self.core.compact(applied, self.state_machine.snapshot())
        compact_to = applied - self.limits.catchup_entries
        first = self.storage.first_index()

        def write() -> None:
            self.storage.create_snapshot(snap)
            if compact_to >= first:
                self.storage.compact(compact_to)

        if getattr(self.storage, "io_in_thread", True):
            await trio.to_thread.run_sync(write)
        else:
            write()
        self._snapshot_index = applied
        self.logger.info("raft_snapshot_taken", term=self.core.term, snapshot_index=applied, compacted_to=compact_to)
