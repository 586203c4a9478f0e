"""The core's view of the log: stable storage plus the unstable tail (entries
and maybe a snapshot handed out in a Ready but not yet persisted).

Invariants:
- unstable entries, if any, are contiguous from `unstable_offset`; reads at
  or above `unstable_offset` come from them, reads below from storage;
- applied <= committed <= last_index();
- committed entries are never truncated (asserted).
"""

from __future__ import annotations

from rafka.raft.errors import CompactedError, UnavailableError
from rafka.raft.storage import Storage
from rafka.raft.types import ENTRY_OVERHEAD_BYTES, Entry, Snapshot


def limit_entries_bytes(entries: list[Entry], max_bytes: int | None) -> list[Entry]:
    """raft.storage.limit_size with the entry size inlined (hot path: every
    AppendEntries and every Ready's committed entries go through it)."""
    if max_bytes is None or not entries:
        return entries
    total = 0
    for n, e in enumerate(entries):
        total += len(e.data) + ENTRY_OVERHEAD_BYTES
        if total > max_bytes and n > 0:
            return entries[:n]
    return entries


class RaftLog:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.unstable: list[Entry] = []
        self.unstable_offset = storage.last_index() + 1
        self.unstable_snapshot: Snapshot | None = None
        # The state machine restarts from the snapshot, which may be newer
        # than the compaction point when storage keeps entries below it.
        floor = max(storage.first_index() - 1, storage.snapshot().meta.index)
        self.committed = floor
        self.applied = floor

    # --- reading ---
    def first_index(self) -> int:
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.meta.index + 1
        return self.storage.first_index()

    def last_index(self) -> int:
        if self.unstable:
            return self.unstable_offset + len(self.unstable) - 1
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.meta.index
        return self.storage.last_index()

    def term(self, index: int) -> int:
        """Term of the entry at index; raises CompactedError below the first
        index - 1 and UnavailableError above the last index."""
        if self.unstable and index >= self.unstable_offset:
            if index > self.last_index():
                raise UnavailableError(f"index {index} beyond last {self.last_index()}")
            return self.unstable[index - self.unstable_offset].term
        snap = self.unstable_snapshot
        if snap is not None:
            if index == snap.meta.index:
                return snap.meta.term
            if index < snap.meta.index:
                raise CompactedError(f"index {index} below snapshot {snap.meta.index}")
            raise UnavailableError(f"index {index} beyond last {self.last_index()}")
        if index > self.last_index():
            raise UnavailableError(f"index {index} beyond last {self.last_index()}")
        return self.storage.term(index)

    def stable_last_index(self) -> int:
        """The last index of this log that is already in stable storage
        (entries from `unstable_offset` on are not persisted yet)."""
        return min(self.unstable_offset - 1, self.last_index())

    def last_term(self) -> int:
        return self.term(self.last_index())

    def match_term(self, index: int, term: int) -> bool:
        try:
            return self.term(index) == term
        except (CompactedError, UnavailableError):
            return False

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Raft's voting rule: the candidate's log is at least as up to date."""
        my_term = self.last_term()
        return last_term > my_term or (last_term == my_term and last_index >= self.last_index())

    def slice(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries [lo, hi), at least one when lo < hi; raises CompactedError
        when lo is below first_index()."""
        if lo >= hi:
            return []
        if lo < self.first_index():
            raise CompactedError(f"index {lo} compacted (first {self.first_index()})")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"index {hi - 1} beyond last {self.last_index()}")
        out: list[Entry] = []
        if lo < self.unstable_offset:
            out = list(self.storage.entries(lo, min(hi, self.unstable_offset), max_bytes))
            if len(out) < min(hi, self.unstable_offset) - lo:
                return out  # hit the byte limit inside storage
        if hi > self.unstable_offset:
            start = max(lo, self.unstable_offset) - self.unstable_offset
            out.extend(self.unstable[start : hi - self.unstable_offset])
        return limit_entries_bytes(out, max_bytes)

    def entries_from(self, lo: int, max_bytes: int | None) -> list[Entry]:
        last = self.last_index()
        if lo > last:
            return []
        return self.slice(lo, last + 1, max_bytes)

    def snapshot(self) -> Snapshot:
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot
        return self.storage.snapshot()

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest (i, t) with i <= index whose term t <= term; used for
        fast conflict backoff. Stops at the first index - 1 (its term is known)."""
        floor = self.first_index() - 1
        while index > floor:
            t = self.term(index)
            if t <= term:
                return index, t
            index -= 1
        if index == floor:
            return index, self.term(index)
        return index, 0

    # --- writing ---
    def append(self, entries: list[Entry]) -> int:
        """Append, replacing any conflicting suffix from entries[0].index."""
        if not entries:
            return self.last_index()
        after = entries[0].index
        assert after > self.committed, f"truncating committed index {after - 1} < {self.committed}"
        end = self.unstable_offset + len(self.unstable)
        if after == end:
            self.unstable.extend(entries)
        elif after <= self.unstable_offset:
            # Replace all unstable entries; storage truncates when persisting.
            self.unstable_offset = after
            self.unstable = list(entries)
        else:
            self.unstable = self.unstable[: after - self.unstable_offset] + list(entries)
        return self.last_index()

    def find_conflict(self, entries: list[Entry]) -> int:
        """Index of the first entry whose term differs from ours (or that we
        lack); 0 when every entry is already present."""
        for e in entries:
            if not self.match_term(e.index, e.term):
                return e.index
        return 0

    def maybe_append(self, prev_index: int, prev_term: int, commit: int, entries: list[Entry]) -> int | None:
        """Follower append; returns the last new index, or None on mismatch."""
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(entries)
        ci = self.find_conflict(entries)
        if ci:
            assert ci > self.committed, f"conflict {ci} at or below commit {self.committed}"
            self.append(entries[ci - entries[0].index :])
        self.commit_to(min(commit, last_new))
        return last_new

    def commit_to(self, index: int) -> bool:
        if index > self.committed:
            assert index <= self.last_index(), f"commit {index} beyond last {self.last_index()}"
            self.committed = index
            return True
        return False

    def maybe_commit(self, index: int, term: int) -> bool:
        """Leader commit rule: only an entry of the current term commits by
        counting replicas (Raft 5.4.2, the Figure 8 fix)."""
        if index > self.committed and self.match_term(index, term):
            return self.commit_to(index)
        return False

    def restore(self, snapshot: Snapshot) -> None:
        self.unstable_snapshot = snapshot
        self.unstable = []
        self.unstable_offset = snapshot.meta.index + 1
        self.committed = snapshot.meta.index

    # --- Ready bookkeeping ---
    def has_next_committed(self) -> bool:
        return self.unstable_snapshot is None and self.committed > self.applied

    def next_committed(self, max_bytes: int) -> list[Entry]:
        if not self.has_next_committed():
            return []
        lo = max(self.applied + 1, self.first_index())
        return self.slice(lo, self.committed + 1, max_bytes)

    def stable_to(self, index: int, term: int) -> None:
        if not self.unstable or index < self.unstable_offset:
            return
        if self.match_term(index, term) and index <= self.last_index():
            n = index + 1 - self.unstable_offset
            self.unstable = self.unstable[n:]
            self.unstable_offset = index + 1

    def stable_snapshot_to(self, index: int) -> None:
        if self.unstable_snapshot is not None and self.unstable_snapshot.meta.index == index:
            self.unstable_snapshot = None

    def applied_to(self, index: int) -> None:
        assert self.applied <= index <= self.committed, (self.applied, index, self.committed)
        self.applied = index
