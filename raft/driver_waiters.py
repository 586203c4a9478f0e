"""The RaftDriver's pending local requests and its apply bookkeeping.

Why a separate module: the driver (raft/driver.py) owns the loop, trio and
persistence; this module owns who is waiting for what (proposals, reads,
leadership transfers) and how a Ready's committed entries, read states and
role changes resolve them. Only the driver's loop task calls it, so nothing
here needs a lock.

Invariants:
  - a waiter is set at most once (`resolve` / `fail` ignore later calls);
  - every pending waiter is in exactly one of `proposals` (by log index; a
    batch's waiter under each of its indexes), `reads` (by read context),
    `reads_waiting_apply` or `transfers`, and `fail_all` empties them all;
  - at most `proposals_max` indexes and `reads_max` reads are pending.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import trio

from rafka.raft.errors import NotLeaderError, ProposalDroppedError
from rafka.raft.types import EntryKind, Role

__all__ = ["PendingWaiters", "Waiter"]


class Waiter:
    """One local request's outcome (set once). A batch proposal's waiter is
    registered at each of its indexes and collects their results in order
    (`results`), resolving at `last_index`."""

    __slots__ = ("event", "result", "error", "term", "index", "last_index", "results")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.term = 0
        self.index = 0
        self.last_index = 0
        self.results: list | None = None  # a batch's results so far

    def resolve(self, result: Any = None) -> None:
        if not self.event.is_set():
            self.result = result
            self.event.set()

    def fail(self, error: BaseException) -> None:
        if not self.event.is_set():
            self.error = error
            self.event.set()


class PendingWaiters:
    """Waiters of one driver's core (see the module docstring). Registering
    raises a RaftError (the driver fails the waiter with it) when a limit is
    reached or the core refuses the request."""

    def __init__(self, core, node_id: int, proposals_max: int, reads_max: int) -> None:
        self.core = core
        self.node_id = node_id
        self.proposals_max = proposals_max
        self.reads_max = reads_max
        self.proposals: dict[int, Waiter] = {}
        self.reads: dict[bytes, Waiter] = {}
        self.reads_waiting_apply: list[tuple[int, Waiter]] = []
        self.transfers: list[tuple[int, Waiter]] = []
        self._ctx_seq = itertools.count(1)

    # ------------------------------------------------------------ registering
    def add_proposal(self, waiter: Waiter, append: Callable[[], int]) -> None:
        """`append()` appends one entry to the core and returns its index."""
        if len(self.proposals) >= self.proposals_max:
            raise ProposalDroppedError("too many pending proposals")
        index = append()
        waiter.index, waiter.term = index, self.core.term
        self.proposals[index] = waiter

    def add_batch(self, waiter: Waiter, datas: list[bytes]) -> None:
        if len(self.proposals) + len(datas) > self.proposals_max:
            raise ProposalDroppedError("too many pending proposals")
        indexes = self.core.propose_batch(datas)
        waiter.index, waiter.last_index, waiter.term = indexes[0], indexes[-1], self.core.term
        waiter.results = []
        proposals = self.proposals
        for index in indexes:
            proposals[index] = waiter

    def add_read(self, waiter: Waiter) -> None:
        if len(self.reads) + len(self.reads_waiting_apply) >= self.reads_max:
            raise ProposalDroppedError("too many pending reads")
        ctx = b"%d:%d" % (self.node_id, next(self._ctx_seq))
        self.core.read_index(ctx)
        self.reads[ctx] = waiter

    def add_transfer(self, waiter: Waiter, target: int) -> None:
        self.core.transfer_leadership(target)
        if self.core.leader_id == target:
            waiter.resolve()
        else:
            self.transfers.append((target, waiter))

    # ------------------------------------------------------------ resolving
    def apply_committed(self, entries, state_machine) -> None:
        """Apply committed entries in order (NORMAL ones to `state_machine`)
        and resolve their proposers; a proposal whose index was taken by
        another term's entry fails with NotLeaderError."""
        proposals = self.proposals
        for entry in entries:
            result = state_machine.apply(entry) if entry.kind == EntryKind.NORMAL else None
            waiter = proposals.pop(entry.index, None)
            if waiter is not None:
                if waiter.term != entry.term:
                    waiter.fail(NotLeaderError(self.core.leader_id, "proposal lost to a leader change"))
                elif waiter.results is None:
                    waiter.resolve(result)
                else:
                    waiter.results.append(result)
                    if entry.index == waiter.last_index:
                        waiter.resolve(waiter.results)

    def on_read_states(self, read_states) -> None:
        """Confirmed read indexes: each read now waits only for apply."""
        for rs in read_states:
            waiter = self.reads.pop(rs.request_ctx, None)
            if waiter is not None:
                waiter.index = rs.index
                self.reads_waiting_apply.append((rs.index, waiter))

    def release_reads(self, applied: int) -> None:
        keep = []
        for index, waiter in self.reads_waiting_apply:
            if applied >= index:
                waiter.resolve(index)
            else:
                keep.append((index, waiter))
        self.reads_waiting_apply = keep

    def on_soft_state(self, ss) -> None:
        if ss.role != Role.LEADER:
            # Reads registered on this leader are gone with its read queue.
            for waiter in self.reads.values():
                waiter.fail(NotLeaderError(ss.leader_id))
            self.reads.clear()
        keep = []
        for target, waiter in self.transfers:
            if ss.leader_id == target:
                waiter.resolve()
            else:
                keep.append((target, waiter))
        self.transfers = keep

    def fail_all(self, error: BaseException) -> None:
        for waiter in self.proposals.values():
            waiter.fail(error)
        for waiter in self.reads.values():
            waiter.fail(error)
        for _, waiter in self.reads_waiting_apply + self.transfers:
            waiter.fail(error)
        self.proposals.clear()
        self.reads.clear()
        self.reads_waiting_apply = []
        self.transfers = []
