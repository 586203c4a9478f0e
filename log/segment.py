"""One segment: a `.log` file of whole record batches plus its indexes.

Why a class of its own: the partition log decides *when* to roll, truncate or
delete; the segment knows *how* its bytes and indexes change. It is not
thread-safe: PartitionLog calls it under its lock.

Invariants:
- the file (opened O_APPEND, so writes land at its end even after a
  truncation) holds whole, valid batches with contiguous offsets
  [base_offset, next_offset), except the `_pending_bytes` bytes queued in
  `_pending`, which are whole batches waiting for one writev();
- `size` counts file bytes plus pending bytes; `_os_size` only what write()
  handed to the OS; reads first drain pending bytes they would cover;
- the in-memory indexes describe every batch (the files may lag until
  `write_indexes`).

Open files: with `handles` (log/segment_handles.py) the segment's file is
counted in a broker-wide cache and, while "parked" (nothing queued, every
byte fsynced), may be closed by it, and its indexes dropped when the index
files describe them; `fd` (for writes, fsyncs, dups) unparks and reopens,
reads reopen and stay parked, indexes reload from their files on first use.

Mixins: the indexes (bookkeeping, files, reload) live in
log/segment_indexes.py, batch-walking reads in log/segment_reads.py, file
names in log/segment_names.py.
"""

from __future__ import annotations

import os

from rafka.log.fs import OS_FS, FileSystem
from rafka.log.errors import LogDirError
from rafka.log.index import OffsetIndex, TimeIndex
from rafka.log.segment_handles import LogHandles
from rafka.log.segment_indexes import NO_TIMESTAMP, SegmentIndexes
from rafka.log.segment_names import INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, segment_name
from rafka.log.segment_reads import SegmentReads

# writev() takes at most IOV_MAX (1024 on Linux) buffers; a batch may need two.
IOV_BATCHES_MAX = 500


def _write_all(fs: FileSystem, fd: int, view) -> None:
    view = memoryview(view)
    while view:
        view = view[fs.write(fd, view):]


class Segment(SegmentIndexes, SegmentReads):
    """A segment file and its in-memory indexes (see module invariants)."""

    def __init__(self, dir_path: str, base_offset: int, fd: int, size: int, *, index_interval_bytes: int,
                 fs: FileSystem = OS_FS, handles: LogHandles | None = None):
        self.fs = fs
        self.dir_path = dir_path
        self.base_offset = base_offset
        self._fd = fd
        self.handles = handles
        self._parked = False
        self.size = size
        self._os_size = size
        self.synced_size = size
        self._pending: list = []  # buffers queued for one writev()
        self._pending_bytes = 0
        self.index_interval_bytes = index_interval_bytes
        self.next_offset = base_offset
        self.max_timestamp = NO_TIMESTAMP
        self.offset_of_max_timestamp = base_offset
        self.rolling_base_ms: int | None = None
        self._index: OffsetIndex | None = OffsetIndex(base_offset)
        self._time_index: TimeIndex | None = TimeIndex(base_offset)
        self._bytes_since_index_entry = 0
        self.indexes_written = False
        if handles is not None:
            handles.cache.opened(self, parked=False)

    # ---- the open file (log/segment_handles.py) ---------------------------

    @property
    def fd(self) -> int:
        """The open file, for a write, fsync or dup: the segment is unparked
        (the cache may not close it) and reopened if the cache closed it."""
        if self._parked:
            self._detach()
        if self._fd < 0:
            self._reopen()
        return self._fd

    def _read_fd(self) -> int:
        """The open file for a read: a parked segment stays parked."""
        if self._fd < 0:
            self._reopen()
        elif self._parked:
            self.handles.cache.touch(self)
        return self._fd

    def _reopen(self) -> None:
        try:
            self._fd = self.fs.open(self.path(LOG_SUFFIX), os.O_RDWR | os.O_APPEND)
        except OSError as exc:
            raise LogDirError(f"cannot reopen segment {self.path(LOG_SUFFIX)}: {exc}") from exc
        if self.handles is not None:
            self.handles.cache.opened(self, parked=self._parked, reopened=True)

    def park(self) -> None:
        """Let the cache close the file (and drop indexes the index files
        hold) when it needs room: only with nothing queued and every byte
        fsynced. A no-op without a cache, when closed or already parked."""
        if (self.handles is None or self._parked or self._fd < 0 or self._pending
                or self.synced_size != self.size):
            return
        self._parked = True
        self.handles.cache.park(self)

    def close_parked(self) -> None:
        """Called by the cache, holding this segment's log lock: close the
        file; drop the indexes if their files describe them."""
        self.fs.close(self._fd)
        self._fd = -1
        if self.indexes_written:
            self._index = self._time_index = None

    def _detach(self) -> None:
        """Before closing or deleting: out of the cache's parked set."""
        if self._parked:
            self._parked = False
            if self._fd >= 0:
                self.handles.cache.unpark(self)

    def _close_fd(self) -> None:
        if self._fd >= 0:
            self.fs.close(self._fd)
            self._fd = -1
            if self.handles is not None:
                self.handles.cache.closed(self)

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    # ---- files -----------------------------------------------------------

    def path(self, suffix: str) -> str:
        return os.path.join(self.dir_path, segment_name(self.base_offset) + suffix)

    @classmethod
    def create(cls, dir_path: str, base_offset: int, *, index_interval_bytes: int,
               fs: FileSystem = OS_FS, handles: LogHandles | None = None) -> "Segment":
        """A new empty segment; a leftover file of that name (beyond the log
        end) is emptied."""
        path = os.path.join(dir_path, segment_name(base_offset) + LOG_SUFFIX)
        try:
            fd = fs.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as exc:
            raise LogDirError(f"cannot create segment {path}: {exc}") from exc
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
            _remove_if_exists(fs, os.path.join(dir_path, segment_name(base_offset) + suffix))
        return cls(dir_path, base_offset, fd, 0, index_interval_bytes=index_interval_bytes, fs=fs, handles=handles)

    @classmethod
    def open_existing(cls, dir_path: str, base_offset: int, *, index_interval_bytes: int,
                      fs: FileSystem = OS_FS, handles: LogHandles | None = None) -> "Segment":
        """An existing segment file (its bytes taken as durable); with
        `handles` it is parked at once, so opening many costs no more
        descriptors than the cache allows."""
        path = os.path.join(dir_path, segment_name(base_offset) + LOG_SUFFIX)
        try:
            fd = fs.open(path, os.O_RDWR | os.O_APPEND)
            size = fs.fstat_size(fd)
        except OSError as exc:
            raise LogDirError(f"cannot open segment {path}: {exc}") from exc
        seg = cls(dir_path, base_offset, fd, size, index_interval_bytes=index_interval_bytes, fs=fs, handles=handles)
        seg.park()
        return seg

    def close(self) -> None:
        self._detach()
        if self._pending:
            self.drain()
        self._release_buffer()
        self._close_fd()

    def delete(self) -> None:
        """Close and remove the segment and its index files."""
        self._detach()
        self._close_fd()
        self._release_buffer()
        for suffix in (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX):
            _remove_if_exists(self.fs, self.path(suffix))

    # ---- appends ---------------------------------------------------------

    def append_batch(self, prefix, body, base_offset: int, next_offset: int, max_timestamp: int,
                     write_buffer_bytes_max: int, body_is_stable: bool = True) -> None:
        """Append one whole batch given as `prefix` (its re-stamped first
        bytes) and `body` (the rest, a memoryview), and index it.

        Batches are queued as buffers and written with one writev() once
        `write_buffer_bytes_max` bytes are queued: fewer syscalls and no copy
        in user space. A body over mutable memory (`body_is_stable` False)
        is copied first, since the caller may reuse it. A batch bigger than
        the limit is written at once.
        """
        if self._parked:
            self._detach()  # bytes are queued: the file must stay (re)open until fsynced
        position = self.size
        n = len(prefix) + len(body)
        pending = self._pending
        if n >= write_buffer_bytes_max:
            if pending:
                self.drain()
            _writev_all(self.fs, self.fd, (prefix, body) if prefix else (body,))
            self._os_size += n
        else:
            if self._pending_bytes + n > write_buffer_bytes_max or len(pending) >= IOV_BATCHES_MAX:
                self.drain()
                pending = self._pending
            if prefix:
                pending.append(prefix)
            pending.append(body if body_is_stable else bytes(body))
            self._pending_bytes += n
        self.size = position + n
        self.track_batch(base_offset, next_offset, position, n, max_timestamp)

    def drain(self) -> None:
        """Hand pending bytes to the OS (not an fsync)."""
        if self._pending:
            _writev_all(self.fs, self.fd, self._pending)
            self._os_size += self._pending_bytes
            self._pending = []
            self._pending_bytes = 0

    def _release_buffer(self) -> None:
        """Forget queued bytes (callers drain first unless the segment is
        being deleted)."""
        self._pending = []
        self._pending_bytes = 0

    def seal(self) -> None:
        """The segment stops being active: write out pending bytes and the
        index files."""
        self.drain()
        self.write_indexes()

    def delete_pending_and_close(self) -> None:
        """Forget unwritten bytes and close (the log goes offline)."""
        self._release_buffer()
        self._detach()
        self._close_fd()

    # ---- reads -----------------------------------------------------------

    def read(self, position: int, size: int) -> bytes:
        """`size` bytes at `position` (within the segment)."""
        if position + size > self._os_size:
            self.drain()
        return self.fs.pread(self._read_fd(), size, position)

    # ---- truncation ------------------------------------------------------

    def truncate_to(self, position: int, next_offset: int) -> None:
        """Cut the file at `position` (a batch boundary) so it ends before
        `next_offset`; indexes follow; durable when this returns."""
        self.drain()
        self.fs.ftruncate(self.fd, position)
        self.fs.fsync(self.fd)
        self.size = self._os_size = self.synced_size = position
        self.index.truncate_to(next_offset)
        self.time_index.truncate_to(next_offset)
        self.next_offset = next_offset
        self.indexes_written = False
        self._recompute_tail_state()

    def remove_index_files(self) -> None:
        """Index files of a segment that is active again are stale."""
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
            _remove_if_exists(self.fs, self.path(suffix))
        self.indexes_written = False



def _writev_all(fs: FileSystem, fd: int, parts) -> None:
    """writev() every part, finishing plainly after a short write."""
    written = fs.writev(fd, parts)
    for part in parts:
        size = len(part)
        if written >= size:
            written -= size
            continue
        _write_all(fs, fd, memoryview(part)[written:])
        written = 0


def _remove_if_exists(fs: FileSystem, path: str) -> None:
    try:
        fs.remove(path)
    except FileNotFoundError:
        pass
