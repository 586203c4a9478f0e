"""A segment's indexes: what each appended batch adds to them, their files,
and the segment's max timestamp they carry.

Why a module of its own: the segment (log/segment.py) owns its file and its
queued writes; the offset and time indexes (log/index.py) are a cache over
those bytes with their own rules: one `track_batch` rule shared by append
and recovery (so a rebuilt index equals the original), files written
rename-atomically but not fsynced (a damaged one is rebuilt), indexes the
open-file cache dropped reloaded on first use, and the tail state recomputed
after a truncation. As a mixin of Segment, `track_batch` on the append path
costs no extra call.

Contract: a mixin of Segment only; it uses `read`, `path`, `fs`, `size`,
`base_offset`, `batch_headers` and the index state Segment.__init__ sets
(`_index`, `_time_index`, `_bytes_since_index_entry`, `indexes_written`,
`next_offset`, `max_timestamp`, `offset_of_max_timestamp`), and like the
segment is not thread-safe (PartitionLog calls it under its lock).
"""

from __future__ import annotations

import struct

from rafka.log.atomic import atomic_write
from rafka.log.errors import CorruptBatchError
from rafka.log.index import IndexCorruptError, OffsetIndex, TimeIndex
from rafka.log.segment_names import INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX

NO_TIMESTAMP = -1
_INT64 = struct.Struct(">q")
# Index files are bounded by index_bytes_max; a bigger file is damage (and read no further).
INDEX_FILE_BYTES_MAX = 64 << 20


class SegmentIndexes:
    """Index bookkeeping of Segment (see the module docstring)."""

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
