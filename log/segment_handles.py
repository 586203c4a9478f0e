"""A broker-wide bound on open segment files: an LRU of idle segments whose
file (and in-memory indexes) may be closed, reopened on demand.

Why: thousands of partitions, each with several segments, must not mean
thousands of descriptors and index arrays held forever (Kafka keeps every
segment open and relies on the OS limit; Redpanda opens a segment's file
for readers and closes it when the last one is done). Here every log of a
broker shares one `SegmentHandles` with a named limit,
`segment_handles_open_max`; a segment's file is counted while open.

Which segments may be closed ("parked"): those with nothing to lose by
closing, i.e. no bytes queued for a write and every byte fsynced through
their own descriptor (`synced_size == size`). A segment with unsynced bytes
stays open until a flush has fsynced it: an fsync through a reopened
descriptor might not report a write-back error of the old one, so the
fsync semantics stay those of a segment that is never closed. The active
segment is parked too once flushed; its next append unparks it and its
next write reopens it (O_APPEND: the write lands at the end).

Correctness of concurrent use (no read of a closed descriptor): a segment
is only ever used under its log's lock (PartitionLog's `_lock`); the cache
closes a parked segment only while holding that same lock, taken without
blocking, and skips a log that is busy. So a read never races the close of
its own descriptor, and a closed one is reopened by its next user. When
every parked segment belongs to a busy log the count may pass the limit
until the next insertion (a soft bound, counted in `over_limit_events`).

Invariants (under `_lock`): `_parked` holds exactly the parked segments
whose file is open, least recently used first; `open_count` counts every
open file of a segment registered here (parked or not).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from rafka.log.errors import LogError

# Half of the common 1024 soft limit on descriptors: the rest is left to
# sockets, checkpoints and the metadata log.
SEGMENT_HANDLES_OPEN_MAX_DEFAULT = 512


class SegmentHandlesError(LogError, ValueError):
    """A bad limit for the segment handle cache."""


class SegmentHandles:
    """See the module docstring. Thread-safe."""

    def __init__(self, open_max: int = SEGMENT_HANDLES_OPEN_MAX_DEFAULT) -> None:
        if not isinstance(open_max, int) or isinstance(open_max, bool) or open_max < 1:
            raise SegmentHandlesError(f"segment_handles_open_max {open_max!r} must be an int >= 1")
        self.open_max = open_max
        self._lock = threading.Lock()
        self._parked: OrderedDict[object, None] = OrderedDict()  # segment -> None, LRU first
        self.open_count = 0
        self.reopens = 0
        self.evictions = 0
        self.over_limit_events = 0

    def for_log(self, lock) -> "LogHandles":
        """The view of one log, whose segments are used under `lock`."""
        return LogHandles(self, lock)

    @property
    def parked_count(self) -> int:
        return len(self._parked)

    # ---- called by segments, under their log's lock --------------------------

    def opened(self, seg, *, parked: bool, reopened: bool = False) -> None:
        """`seg` opened its file (`parked`: and may be closed at once)."""
        with self._lock:
            self.open_count += 1
            if reopened:
                self.reopens += 1
            if parked:
                self._parked[seg] = None
            self._evict_over_limit(seg)

    def closed(self, seg) -> None:
        """`seg` closed its file itself (close, delete)."""
        with self._lock:
            self.open_count -= 1
            self._parked.pop(seg, None)

    def park(self, seg) -> None:
        """`seg`'s open file may be closed from now on."""
        with self._lock:
            self._parked[seg] = None
            self._parked.move_to_end(seg)
            self._evict_over_limit(seg)

    def unpark(self, seg) -> None:
        """`seg`'s file must stay open (it is about to be written or fsynced)."""
        with self._lock:
            self._parked.pop(seg, None)

    def touch(self, seg) -> None:
        """`seg` was just read: the most recently used."""
        with self._lock:
            if seg in self._parked:
                self._parked.move_to_end(seg)

    # ---- eviction ------------------------------------------------------------

    def _evict_over_limit(self, keep) -> None:
        """Close least recently used parked files until the count is within
        the limit, never `keep` (the segment being used), skipping logs whose
        lock is held by another thread."""
        if self.open_count <= self.open_max:
            return
        for seg in list(self._parked):
            if self.open_count <= self.open_max:
                return
            if seg is keep:
                continue
            lock = seg.handles.lock
            if not lock.acquire(blocking=False):
                continue
            try:
                seg.close_parked()
            finally:
                lock.release()
            del self._parked[seg]
            self.open_count -= 1
            self.evictions += 1
        if self.open_count > self.open_max:
            self.over_limit_events += 1


class LogHandles:
    """One log's share of a SegmentHandles: the cache and the log's lock."""

    __slots__ = ("cache", "lock")

    def __init__(self, cache: SegmentHandles, lock) -> None:
        self.cache = cache
        self.lock = lock
