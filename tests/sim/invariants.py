"""Raft safety invariants, checked incrementally after every simulator event.

Why incremental: the simulator checks after EVERY event, so each check must
cost only what changed. The checker keeps global facts gathered from every
node over the whole run and raises `InvariantViolation` the moment a new
observation contradicts them:

- Election safety: at most one leader per term, across all history
  (`leader_of_term`).
- Log matching: an entry is identified by (index, term); every node that ever
  holds (index, term) must hold the same payload AND the same term at
  index-1 (`entry_facts`). By induction over the index this is exactly "two
  logs that share (index, term) are identical up to index".
- Leader completeness: every committed entry is in the log of every leader of
  a later term. When a node with current term T reports commit index c, all
  entries <= c were committed in some term <= T, so every leader of a term
  > T must hold them (`committed` keeps, per index, the entry's term and the
  lowest such T seen). Checked when a node becomes leader and when a new
  commit is observed while leaders are known.
- State-machine safety: no two nodes apply different entries at the same
  index; nodes apply without gaps, and the state after applying index i (or
  restoring a snapshot at i) hashes the same on every node (`applied`).

Invariant of the checker itself: facts are only ever added, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

# A log lookup: index -> term, `None` when the node's log does not reach it,
# `COMPACTED` when it is covered by the node's snapshot.
COMPACTED = -1
TermAt = Callable[[int], int | None]


class InvariantViolation(Exception):
    """A Raft safety property does not hold. `invariant` names which."""

    def __init__(self, invariant: str, detail: str):
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail


@dataclass
class Committed:
    term: int
    payload: Any  # (kind, data) once some node applied it, else None
    observed_term: int  # the lowest current term of a node that saw it committed


@dataclass
class SafetyChecker:
    leader_of_term: dict[int, int] = field(default_factory=dict)
    entry_facts: dict[tuple[int, int], tuple[Any, int]] = field(default_factory=dict)
    committed: dict[int, Committed] = field(default_factory=dict)
    applied: dict[int, tuple[int, Any, str]] = field(default_factory=dict)
    snapshot_states: dict[int, str] = field(default_factory=dict)
    leaders_now: dict[int, tuple[int, TermAt]] = field(default_factory=dict)
    checks: int = 0

    # -- election safety ------------------------------------------------------

    def on_leader(self, node: int, term: int, term_at: TermAt) -> None:
        """`node` is leader in `term` now (called on every observation)."""
        self.checks += 1
        holder = self.leader_of_term.setdefault(term, node)
        if holder != node:
            raise InvariantViolation(
                "election safety", f"term {term} has two leaders: n{holder} and n{node}"
            )
        known = self.leaders_now.get(node)
        self.leaders_now[node] = (term, term_at)
        if known is None or known[0] != term:
            self._check_leader_log(node, term, term_at, self.committed.items())

    def on_not_leader(self, node: int) -> None:
        self.leaders_now.pop(node, None)

    # -- log matching ---------------------------------------------------------

    def on_append(self, node: int, index: int, term: int, payload: Any, prev_term: int) -> None:
        """`node` durably holds entry (index, term) whose predecessor has `prev_term`."""
        self.checks += 1
        fact = (payload, prev_term)
        known = self.entry_facts.setdefault((index, term), fact)
        if known != fact:
            what = "payload" if known[0] != payload else f"previous term ({known[1]} vs {prev_term})"
            raise InvariantViolation(
                "log matching",
                f"n{node} holds entry {index}:{term} with a different {what} than another node",
            )

    # -- leader completeness --------------------------------------------------

    def on_commit(self, node: int, node_term: int, lo: int, hi: int, term_at: TermAt) -> None:
        """`node` (current term `node_term`) has commit index `hi`; indices
        lo..hi are newly committed at this node."""
        new = []
        for index in range(lo, hi + 1):
            term = term_at(index)
            if term is None:
                raise InvariantViolation(
                    "log matching", f"n{node} commit index {hi} is past its log (no entry {index})"
                )
            if term == COMPACTED:
                continue
            known = self.committed.get(index)
            if known is None:
                known = self.committed[index] = Committed(term, None, node_term)
                new.append((index, known))
            else:
                if known.term != term:
                    raise InvariantViolation(
                        "state-machine safety",
                        f"index {index} committed with term {known.term}, "
                        f"but n{node} committed term {term}",
                    )
                if node_term < known.observed_term:
                    known.observed_term = node_term
                    new.append((index, known))
        if new:
            for leader, (term, leader_term_at) in list(self.leaders_now.items()):
                self._check_leader_log(leader, term, leader_term_at, new)

    def _check_leader_log(self, node: int, term: int, term_at: TermAt, entries) -> None:
        self.checks += 1
        for index, c in entries:
            if c.observed_term >= term:
                continue
            have = term_at(index)
            if have == COMPACTED:
                continue
            if have != c.term:
                raise InvariantViolation(
                    "leader completeness",
                    f"entry {index}:{c.term} was committed by term {c.observed_term}, "
                    f"but n{node}, leader of term {term}, has "
                    + ("no entry there" if have is None else f"term {have} there"),
                )

    # -- state-machine safety -------------------------------------------------

    def on_apply(self, node: int, index: int, term: int, payload: Any, state_hash: str) -> None:
        """`node` applied entry (index, term) and its state hashes to `state_hash`."""
        self.checks += 1
        fact = (term, payload, state_hash)
        known = self.applied.setdefault(index, fact)
        if known != fact:
            what = "entry" if known[:2] != fact[:2] else "resulting state"
            raise InvariantViolation(
                "state-machine safety",
                f"n{node} applied a different {what} at index {index} "
                f"(term {term} vs term {known[0]} applied elsewhere)",
            )
        c = self.committed.get(index)
        if c is not None and c.term != term:
            raise InvariantViolation(
                "state-machine safety",
                f"n{node} applied {index}:{term} but {index}:{c.term} was committed",
            )
        if c is not None and c.payload is None:
            c.payload = payload

    def on_restore(self, node: int, index: int, term: int, state_hash: str) -> None:
        """`node` replaced its state with a snapshot at (index, term)."""
        self.checks += 1
        known = self.snapshot_states.setdefault(index, state_hash)
        applied = self.applied.get(index)
        if known != state_hash or (applied is not None and applied[2] != state_hash):
            raise InvariantViolation(
                "state-machine safety",
                f"n{node} restored a snapshot at {index}:{term} whose state differs "
                "from the state other nodes reached at that index",
            )
        c = self.committed.get(index)
        if c is not None and c.term != term:
            raise InvariantViolation(
                "state-machine safety",
                f"n{node} restored a snapshot at {index}:{term} but {index}:{c.term} was committed",
            )
