"""Sparse offset index and time index of one segment, kept in memory.

Why in memory: appends add an entry every `index_interval_bytes`, which must
cost no I/O; the files are written when the segment is sealed or closed and
are only a cache: a missing or damaged file is rebuilt from the segment.

File formats follow Kafka (big-endian):
- `.index`: entries of 4-byte offset relative to the segment's base offset
  and 4-byte byte position of the batch holding that offset (its start).
- `.timeindex`: entries of 8-byte timestamp and 4-byte relative offset; the
  timestamp is the largest batch max_timestamp seen up to and including the
  batch at that offset.

Invariants: offset index offsets and positions strictly increase; time index
timestamps strictly increase and offsets never decrease.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_right

from rafka.log.errors import LogError

OFFSET_ENTRY_BYTES = 8
TIME_ENTRY_BYTES = 12
_TIME_ENTRY = struct.Struct(">qI")
_SWAP = sys.byteorder == "little"


class IndexCorruptError(LogError):
    """An index file does not describe its segment (rebuild it)."""


def _to_big_endian(values: array) -> bytes:
    if _SWAP:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


class OffsetIndex:
    """Relative offset -> byte position, sparse; lookups by bisection."""

    __slots__ = ("base_offset", "_offsets", "_positions")

    def __init__(self, base_offset: int):
        self.base_offset = base_offset
        self._offsets = array("I")  # relative offsets
        self._positions = array("I")

    def __len__(self) -> int:
        return len(self._offsets)

    def append(self, offset: int, position: int) -> None:
        rel = offset - self.base_offset
        assert not self._offsets or (rel > self._offsets[-1] and position > self._positions[-1]), (
            "offset index entries must strictly increase"
        )
        self._offsets.append(rel)
        self._positions.append(position)

    def lookup(self, offset: int) -> tuple[int, int]:
        """(offset, position) of the last entry at or before `offset`, else
        (base_offset, 0): the batch there starts at or before `offset`."""
        i = bisect_right(self._offsets, offset - self.base_offset) - 1
        if i < 0:
            return self.base_offset, 0
        return self.base_offset + self._offsets[i], self._positions[i]

    def entry_at_or_before_position(self, position: int) -> tuple[int, int] | None:
        """(offset, position) of the last entry whose position <= `position`."""
        i = bisect_right(self._positions, position) - 1
        if i < 0:
            return None
        return self.base_offset + self._offsets[i], self._positions[i]

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= `offset` (the segment was cut there)."""
        i = bisect_right(self._offsets, offset - self.base_offset - 1)
        del self._offsets[i:]
        del self._positions[i:]

    def cut(self, n: int) -> None:
        """Keep only the first `n` entries (undo of a failed append)."""
        del self._offsets[n:]
        del self._positions[n:]

    def to_bytes(self) -> bytes:
        pairs = array("I", bytes(len(self._offsets) * OFFSET_ENTRY_BYTES))
        pairs[0::2] = self._offsets
        pairs[1::2] = self._positions
        return _to_big_endian(pairs)

    @classmethod
    def from_bytes(cls, base_offset: int, data: bytes, *, segment_bytes: int) -> "OffsetIndex":
        """Decode and check an index file; IndexCorruptError if it cannot be
        the index of a segment of `segment_bytes` bytes."""
        if len(data) % OFFSET_ENTRY_BYTES:
            raise IndexCorruptError(f"offset index size {len(data)} is not a multiple of {OFFSET_ENTRY_BYTES}")
        pairs = array("I")
        pairs.frombytes(data)
        if _SWAP:
            pairs.byteswap()
        index = cls(base_offset)
        index._offsets = pairs[0::2]
        index._positions = pairs[1::2]
        offsets, positions = index._offsets, index._positions
        for i in range(1, len(offsets)):
            if offsets[i] <= offsets[i - 1] or positions[i] <= positions[i - 1]:
                raise IndexCorruptError(f"offset index entry {i} does not increase")
        if positions and positions[-1] >= segment_bytes:
            raise IndexCorruptError(f"offset index points at {positions[-1]}, past the segment's {segment_bytes} bytes")
        if offsets and offsets[-1] >= 2**31:
            raise IndexCorruptError("offset index relative offset out of range")
        return index


class TimeIndex:
    """Largest timestamp so far -> relative offset of the batch that had it."""

    __slots__ = ("base_offset", "_timestamps", "_offsets")

    def __init__(self, base_offset: int):
        self.base_offset = base_offset
        self._timestamps = array("q")
        self._offsets = array("I")

    def __len__(self) -> int:
        return len(self._timestamps)

    @property
    def last_entry(self) -> tuple[int, int] | None:
        if not self._timestamps:
            return None
        return self._timestamps[-1], self.base_offset + self._offsets[-1]

    def maybe_append(self, timestamp_ms: int, offset: int) -> None:
        """Add (timestamp_ms, offset) if it raises the largest timestamp."""
        if self._timestamps and timestamp_ms <= self._timestamps[-1]:
            return
        rel = offset - self.base_offset
        assert not self._offsets or rel >= self._offsets[-1], "time index offsets must not decrease"
        self._timestamps.append(timestamp_ms)
        self._offsets.append(rel)

    def last_before(self, timestamp_ms: int) -> tuple[int, int] | None:
        """(timestamp, offset) of the last entry with a timestamp < `timestamp_ms`:
        every batch up to and including that offset is older than it."""
        i = bisect_right(self._timestamps, timestamp_ms - 1) - 1
        if i < 0:
            return None
        return self._timestamps[i], self.base_offset + self._offsets[i]

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= `offset`."""
        i = bisect_right(self._offsets, offset - self.base_offset - 1)
        del self._timestamps[i:]
        del self._offsets[i:]

    def cut(self, n: int) -> None:
        """Keep only the first `n` entries (undo of a failed append)."""
        del self._timestamps[n:]
        del self._offsets[n:]

    def to_bytes(self) -> bytes:
        out = bytearray(len(self._timestamps) * TIME_ENTRY_BYTES)
        for i, (ts, rel) in enumerate(zip(self._timestamps, self._offsets)):
            _TIME_ENTRY.pack_into(out, i * TIME_ENTRY_BYTES, ts, rel)
        return bytes(out)

    @classmethod
    def from_bytes(cls, base_offset: int, data: bytes, *, next_offset: int | None = None) -> "TimeIndex":
        """Decode and check a time index file; IndexCorruptError if damaged.
        `next_offset`, when known, bounds the offsets it may name."""
        if len(data) % TIME_ENTRY_BYTES:
            raise IndexCorruptError(f"time index size {len(data)} is not a multiple of {TIME_ENTRY_BYTES}")
        index = cls(base_offset)
        for ts, rel in _TIME_ENTRY.iter_unpack(data):
            if index._timestamps and (ts <= index._timestamps[-1] or rel < index._offsets[-1]):
                raise IndexCorruptError(f"time index entry {len(index)} does not increase")
            index._timestamps.append(ts)
            index._offsets.append(rel)
        if next_offset is not None and index._offsets and base_offset + index._offsets[-1] >= next_offset:
            raise IndexCorruptError("time index names an offset past the segment's end")
        return index
