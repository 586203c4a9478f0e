"""The storage seam of the Raft core.

The core only READS storage (the `Storage` read methods below), and only
stable state: entries, hard state and snapshots the caller already persisted.
New entries, hard state and snapshots travel in a `Ready`; the driver (or the
simulator) writes them with the write methods, durably, before sending the
Ready's messages, then calls `core.advance(ready)`.

Index conventions: the storage holds a snapshot covering [1, S] (S = 0 when
none) and entries (C, last_index] where C <= S is the compaction point
(`compact(C)`; entries between C and S may be kept so slow followers can
catch up without a snapshot). `term(C)` is always answerable, so
`first_index() == C + 1` and `term(first_index() - 1)` works. `term(i)` for
i < C raises CompactedError; for i > last_index raises UnavailableError. A
restarted core starts with commit and applied at least S (the state machine
is restored from the snapshot).

MemoryStorage is the in-memory implementation for tests and the simulator.
A crash that loses un-fsynced writes is modelled by the simulator keeping
`durable = storage.copy()` after every completed persist step and restarting
a node from `durable.copy()`: a copy is independent of the original (entries
are immutable, so copying the lists is enough).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from rafka.raft.errors import CompactedError, StorageError, UnavailableError
from rafka.raft.types import ConfigState, Entry, EntryKind, HardState, Snapshot, SnapshotMeta


@runtime_checkable
class Storage(Protocol):
    # --- read side (the core) ---
    def initial_state(self) -> tuple[HardState, ConfigState]:
        """Stored hard state and the configuration at the snapshot (or the
        bootstrap configuration when there is no snapshot). CONFIG entries
        after the snapshot are replayed by the core."""
        ...

    def first_index(self) -> int: ...

    def last_index(self) -> int: ...

    def term(self, index: int) -> int: ...

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries [lo, hi); at least one when lo < hi, even if larger than
        max_bytes; then as many as fit."""
        ...

    def snapshot(self) -> Snapshot: ...

    # --- write side (the driver / simulator) ---
    def append(self, entries: list[Entry]) -> None:
        """Append, first truncating every stored entry at or after
        entries[0].index (a conflicting suffix)."""
        ...

    def sync(self) -> None:
        """Make every append before it durable (one fsync per Ready)."""
        ...

    def set_hard_state(self, hard_state: HardState) -> None:
        """Durable when it returns."""
        ...

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Install a snapshot received from the leader: replaces the log."""
        ...

    def create_snapshot(self, snapshot: Snapshot) -> None:
        """Record a snapshot the local state machine took; keeps the log."""
        ...

    def compact(self, index: int) -> None:
        """Discard entries up to and including index (<= snapshot index)."""
        ...


def limit_size(entries: list[Entry], max_bytes: int | None) -> list[Entry]:
    """The longest prefix within max_bytes, but never fewer than one entry."""
    if max_bytes is None or not entries:
        return entries
    total = 0
    for n, e in enumerate(entries):
        total += e.size_bytes
        if total > max_bytes and n > 0:
            return entries[:n]
    return entries


class MemoryStorage:
    """In-memory Storage. `_ents[0]` is a sentinel holding the snapshot's
    (index, term); real entries follow contiguously."""

    # Writes are memory operations: the driver runs them inline, not in a thread.
    io_in_thread = False

    def __init__(self, config: ConfigState | None = None, hard_state: HardState | None = None) -> None:
        self._bootstrap = config if config is not None else ConfigState()
        self._hard_state = hard_state if hard_state is not None else HardState()
        self._snapshot = Snapshot(SnapshotMeta(0, 0, self._bootstrap), b"")
        self._ents: list[Entry] = [Entry(0, 0, EntryKind.NOOP, b"")]

    def copy(self) -> "MemoryStorage":
        other = MemoryStorage.__new__(MemoryStorage)
        other._bootstrap = self._bootstrap
        other._hard_state = self._hard_state
        other._snapshot = self._snapshot
        other._ents = list(self._ents)
        return other

    # --- read side ---
    def initial_state(self) -> tuple[HardState, ConfigState]:
        return self._hard_state, self._snapshot.meta.config

    @property
    def hard_state(self) -> HardState:
        return self._hard_state

    def _offset(self) -> int:
        return self._ents[0].index

    def first_index(self) -> int:
        return self._offset() + 1

    def last_index(self) -> int:
        return self._offset() + len(self._ents) - 1

    def term(self, index: int) -> int:
        off = self._offset()
        if index < off:
            raise CompactedError(f"index {index} compacted (first {off + 1})")
        if index > self.last_index():
            raise UnavailableError(f"index {index} beyond last {self.last_index()}")
        return self._ents[index - off].term

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        off = self._offset()
        if lo <= off:
            raise CompactedError(f"index {lo} compacted (first {off + 1})")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"index {hi - 1} beyond last {self.last_index()}")
        return limit_size(self._ents[lo - off : hi - off], max_bytes)

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # --- write side ---
    def append(self, entries: list[Entry]) -> None:
        if not entries:
            return
        off = self._offset()
        first = entries[0].index
        if first + len(entries) - 1 <= off:
            return  # all already covered by the snapshot
        if first <= off:
            entries = entries[off + 1 - first :]
            first = off + 1
        if first > self.last_index() + 1:
            raise StorageError(f"gap: appending {first} after last {self.last_index()}")
        del self._ents[first - off :]
        self._ents.extend(entries)

    def sync(self) -> None:
        pass

    def set_hard_state(self, hard_state: HardState) -> None:
        self._hard_state = hard_state

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.meta.index <= self._snapshot.meta.index:
            raise StorageError(
                f"snapshot {snapshot.meta.index} not newer than {self._snapshot.meta.index}"
            )
        self._snapshot = snapshot
        self._ents = [Entry(snapshot.meta.term, snapshot.meta.index, EntryKind.NOOP, b"")]

    def create_snapshot(self, snapshot: Snapshot) -> None:
        idx = snapshot.meta.index
        if idx <= self._snapshot.meta.index:
            raise StorageError(f"snapshot {idx} not newer than {self._snapshot.meta.index}")
        if idx > self.last_index():
            raise StorageError(f"snapshot {idx} beyond last index {self.last_index()}")
        self._snapshot = snapshot

    def compact(self, index: int) -> None:
        off = self._offset()
        if index <= off:
            return
        if index > self._snapshot.meta.index:
            raise StorageError(f"compact {index} beyond snapshot {self._snapshot.meta.index}")
        self._ents = self._ents[index - off :]
