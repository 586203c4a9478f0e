"""Walking a segment's batches by their headers: whole-batch reads, the
batch holding an offset, header iteration.

Why a module of its own: the segment (log/segment.py) owns its file, its
queued writes and its indexes; these lookups only read through
`Segment.read` and step from one batch header to the next, which is a job
of its own (and the read hot path: as a mixin of Segment they cost no extra
call). No CRC checks: the log was verified when written or recovered.

Contract: a mixin of Segment only; it uses `read`, `size`, `index` and
`base_offset`, and like the segment is not thread-safe (PartitionLog calls
it under its lock).
"""

from __future__ import annotations

import struct

from rafka.log.batch import HEADER_SIZE, LENGTH_OVERHEAD, parse_header
from rafka.log.errors import CorruptBatchError
from rafka.log.index import IndexCorruptError

# base_offset and batch_length: enough to step from one batch to the next.
_BASE_AND_LENGTH = struct.Struct(">qi")
_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
LAST_OFFSET_DELTA_POS = 23
WALK_CHUNK_BYTES = 64 * 1024


class SegmentReads:
    """Batch-walking reads of Segment (see the module docstring)."""

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
