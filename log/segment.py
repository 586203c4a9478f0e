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
"""

from __future__ import annotations

import os
import struct

from rafka.log.atomic import atomic_write
from rafka.log.fs import OS_FS, FileSystem
from rafka.log.batch import HEADER_SIZE, LENGTH_OVERHEAD, parse_header
from rafka.log.errors import CorruptBatchError, LogDirError
from rafka.log.index import IndexCorruptError, OffsetIndex, TimeIndex
from rafka.log.segment_handles import LogHandles

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
OFFSET_DIGITS = 20
NO_TIMESTAMP = -1
# base_offset and batch_length: enough to step from one batch to the next.
_BASE_AND_LENGTH = struct.Struct(">qi")
_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
LAST_OFFSET_DELTA_POS = 23
WALK_CHUNK_BYTES = 64 * 1024
# writev() takes at most IOV_MAX (1024 on Linux) buffers; a batch may need two.
IOV_BATCHES_MAX = 500
# Index files are bounded by index_bytes_max; a bigger file is damage (and read no further).
INDEX_FILE_BYTES_MAX = 64 << 20


def segment_name(base_offset: int) -> str:
    return f"{base_offset:0{OFFSET_DIGITS}d}"


def parse_segment_name(name: str) -> int | None:
    """Base offset of a `.log` file name, or None if not a segment name."""
    stem, dot, suffix = name.partition(".")
    if dot and "." + suffix == LOG_SUFFIX and len(stem) == OFFSET_DIGITS and stem.isdigit():
        return int(stem)
    return None


def _write_all(fs: FileSystem, fd: int, view) -> None:
    view = memoryview(view)
    while view:
        view = view[fs.write(fd, view):]


class Segment:
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

    # ---- the open file and indexes (log/segment_handles.py) ---------------

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

    @property
    def index(self) -> OffsetIndex:
        index = self._index
        return index if index is not None else self._reload_indexes()[0]

    @index.setter
    def index(self, value: OffsetIndex) -> None:
        self._index = value

    @property
    def time_index(self) -> TimeIndex:
        time_index = self._time_index
        return time_index if time_index is not None else self._reload_indexes()[1]

    @time_index.setter
    def time_index(self, value: TimeIndex) -> None:
        self._time_index = value

    def _reload_indexes(self) -> tuple[OffsetIndex, TimeIndex]:
        """Indexes the cache dropped, from their files; if those are gone or
        damaged, rebuilt from the batch headers (the segment was verified
        when written or recovered) and written again."""
        try:
            self.load_indexes(self.next_offset)
        except (OSError, IndexCorruptError):
            expected_end, rolling_base_ms = self.next_offset, self.rolling_base_ms
            self.reset_indexes()
            for position, header in self.batch_headers(0):
                self.track_batch(header.base_offset, header.next_offset, position, header.size,
                                 header.max_timestamp)
            if self.next_offset != expected_end:
                raise CorruptBatchError(f"segment {self.path(LOG_SUFFIX)} ends at {self.next_offset}, "
                                        f"expected {expected_end}")
            self.rolling_base_ms = rolling_base_ms
            self.write_indexes()
        return self._index, self._time_index

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

    def track_batch(self, base_offset: int, next_offset: int, position: int, size: int, max_timestamp: int) -> None:
        """Account for a whole batch at `position` in the indexes (append and
        recovery share this rule, so a rebuilt index equals the original)."""
        if self._bytes_since_index_entry >= self.index_interval_bytes and position > 0:
            self.index.append(base_offset, position)
            if self.max_timestamp > NO_TIMESTAMP:
                self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp)
            self._bytes_since_index_entry = 0
        self._bytes_since_index_entry += size
        self.indexes_written = False
        if max_timestamp > self.max_timestamp:
            self.max_timestamp = max_timestamp
            self.offset_of_max_timestamp = base_offset
        self.next_offset = next_offset

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

    def read_batches(self, start: int, max_bytes: int) -> bytes:
        """Whole batches from `start` (a batch start) totalling at most
        `max_bytes`, but at least the first batch.

        The end comes from the sparse index when an entry lies inside the
        window (one pread, no copy); otherwise the window is stepped through
        batch by batch.
        """
        limit = start + max_bytes
        if limit >= self.size:
            return self.read(start, self.size - start)
        entry = self.index.entry_at_or_before_position(limit)
        if entry is not None and entry[1] > start:
            entry_offset, end = entry
            head = self.read(end, 8)
            if len(head) != 8 or _INT64.unpack(head)[0] != entry_offset:
                raise IndexCorruptError(f"offset index entry for {entry_offset} does not point at its batch")
            return self.read(start, end - start)
        data = self.read(start, max_bytes)
        end = 0
        while end + 12 <= len(data):
            size = _BASE_AND_LENGTH.unpack_from(data, end)[1] + LENGTH_OVERHEAD
            if end + size > len(data):
                break
            end += size
        if end == 0:
            head = self.read(start, 12)
            if len(head) < 12:
                raise CorruptBatchError(f"no batch at position {start} of segment {self.base_offset}")
            return self.read(start, _BASE_AND_LENGTH.unpack_from(head)[1] + LENGTH_OVERHEAD)
        return data[:end]

    def batch_start_for(self, offset: int) -> int:
        """Position of the batch holding `offset` (base_offset <= offset <
        next_offset). IndexCorruptError if the index misleads."""
        expected, position = self.index.lookup(offset)
        first = True
        while position < self.size:
            chunk = self.read(position, min(WALK_CHUNK_BYTES, self.size - position))
            if len(chunk) < HEADER_SIZE:
                raise CorruptBatchError(f"torn batch at position {position} of segment {self.base_offset}")
            rel = 0
            while rel + HEADER_SIZE <= len(chunk):
                base, length = _BASE_AND_LENGTH.unpack_from(chunk, rel)
                if first:
                    if base != expected:
                        raise IndexCorruptError(
                            f"index of segment {self.base_offset} says offset {expected} is at "
                            f"{position + rel}, found {base}")
                    first = False
                if offset <= base + _INT32.unpack_from(chunk, rel + LAST_OFFSET_DELTA_POS)[0]:
                    return position + rel
                rel += length + LENGTH_OVERHEAD
            position += rel
        raise IndexCorruptError(f"offset {offset} not found in segment {self.base_offset}")

    def batch_headers(self, position: int = 0):
        """Yield (position, BatchHeader) of each batch from `position` on (no
        CRC check: for lookups in a log already verified)."""
        while position < self.size:
            chunk = self.read(position, min(WALK_CHUNK_BYTES, self.size - position))
            rel = 0
            while rel + HEADER_SIZE <= len(chunk):
                header = parse_header(chunk, rel)
                yield position + rel, header
                rel += header.size
            if rel == 0:
                raise CorruptBatchError(f"torn batch at position {position} of segment {self.base_offset}")
            position += rel

    # ---- truncation and indexes -----------------------------------------

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

    def _recompute_tail_state(self) -> None:
        """After a cut: the max timestamp (and its offset) and the bytes
        since the last offset-index entry, from what remains.

        Why it is cheap and exact: a time index entry is the running maximum
        at an index point, so the last entry left (its batch survived) is the
        maximum of every batch before the last offset-index entry left; only
        the batches from that entry's position on (about
        `index_interval_bytes`) are read, header by header. Without this a
        truncated segment would keep the timestamp of dropped batches and
        time-based retention would judge it by them."""
        last = self.time_index.last_entry
        if last is None:
            self.max_timestamp, self.offset_of_max_timestamp = NO_TIMESTAMP, self.base_offset
        else:
            self.max_timestamp, self.offset_of_max_timestamp = last
        entry = self.index.entry_at_or_before_position(self.size)
        start = 0 if entry is None else entry[1]
        self._bytes_since_index_entry = 0
        for _, header in self.batch_headers(start):
            self._bytes_since_index_entry += header.size
            if header.max_timestamp > self.max_timestamp:
                self.max_timestamp = header.max_timestamp
                self.offset_of_max_timestamp = header.base_offset

    def remove_index_files(self) -> None:
        """Index files of a segment that is active again are stale."""
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
            _remove_if_exists(self.fs, self.path(suffix))
        self.indexes_written = False

    def seal_time_index(self) -> None:
        """Make the last time index entry carry the segment's max timestamp."""
        if self.max_timestamp > NO_TIMESTAMP:
            self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp)

    def write_indexes(self) -> None:
        """Write both index files (rename-atomic, not fsynced: a damaged one
        is rebuilt on open)."""
        self.seal_time_index()
        atomic_write(self.path(INDEX_SUFFIX), self.index.to_bytes(), durable=False, fs=self.fs)
        atomic_write(self.path(TIME_INDEX_SUFFIX), self.time_index.to_bytes(), durable=False, fs=self.fs)
        self.indexes_written = True

    def load_indexes(self, next_offset: int) -> None:
        """Load both index files for a segment ending before `next_offset`;
        IndexCorruptError (or OSError) if missing or damaged."""
        index = OffsetIndex.from_bytes(self.base_offset, self.fs.read_file(self.path(INDEX_SUFFIX), INDEX_FILE_BYTES_MAX),
                                       segment_bytes=self.size)
        time_index = TimeIndex.from_bytes(self.base_offset,
                                          self.fs.read_file(self.path(TIME_INDEX_SUFFIX), INDEX_FILE_BYTES_MAX),
                                          next_offset=next_offset)
        if len(index) and index.lookup(next_offset)[0] >= next_offset:
            raise IndexCorruptError("offset index names an offset past the segment's end")
        if self.size and len(time_index) == 0 and len(index) > 0:
            raise IndexCorruptError("time index is empty but the offset index is not")
        if len(index):  # spot check the last entry, like Kafka's sanity check
            offset, position = index.lookup(next_offset)
            head = self.read(position, 8)
            if len(head) != 8 or _INT64.unpack(head)[0] != offset:
                raise IndexCorruptError(f"last offset index entry ({offset} at {position}) is wrong")
        self.index, self.time_index = index, time_index
        self.next_offset = next_offset
        last = time_index.last_entry
        if last is not None:
            self.max_timestamp, self.offset_of_max_timestamp = last
        self.indexes_written = True

    def reset_indexes(self) -> None:
        """Forget the indexes before a rebuild scan re-tracks every batch."""
        self.index = OffsetIndex(self.base_offset)
        self.time_index = TimeIndex(self.base_offset)
        self._bytes_since_index_entry = 0
        self.next_offset = self.base_offset
        self.max_timestamp = NO_TIMESTAMP
        self.offset_of_max_timestamp = self.base_offset
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
