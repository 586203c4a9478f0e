"""Sparse offset index and time index: lookups, truncation, file round trip, damage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rafka.log.index import IndexCorruptError, OffsetIndex, TimeIndex


def test_offset_lookup_returns_last_entry_at_or_before():
    """Goal: lookup gives the nearest entry at or before the offset, or the segment start."""
    index = OffsetIndex(100)
    index.append(110, 500)
    index.append(120, 900)
    assert index.lookup(105) == (100, 0)
    assert index.lookup(110) == (110, 500)
    assert index.lookup(119) == (110, 500)
    assert index.lookup(10**6) == (120, 900)
    assert index.entry_at_or_before_position(899) == (110, 500)
    assert index.entry_at_or_before_position(499) is None


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 500)), max_size=60))
def test_offset_index_round_trips_through_bytes(steps):
    """Goal: any valid index survives to_bytes/from_bytes unchanged (Kafka's 8-byte entries)."""
    index = OffsetIndex(1000)
    offset, position = 1000, 0
    for d_offset, d_position in steps:
        offset += d_offset
        position += d_position
        index.append(offset, position)
    data = index.to_bytes()
    assert len(data) == 8 * len(steps)
    again = OffsetIndex.from_bytes(1000, data, segment_bytes=position + 1)
    for probe in range(1000, offset + 2, 7):
        assert again.lookup(probe) == index.lookup(probe)


def test_offset_index_truncate_drops_entries_at_or_after():
    """Goal: truncate_to removes entries for offsets >= the cut, keeps the rest."""
    index = OffsetIndex(0)
    for i in range(1, 6):
        index.append(i * 10, i * 100)
    index.truncate_to(30)
    assert len(index) == 2 and index.lookup(99) == (20, 200)


@pytest.mark.parametrize(
    "data, segment_bytes",
    [
        (b"\0" * 7, 100),  # not a multiple of the entry size
        (bytes.fromhex("0000000500000064" "0000000400000070"), 1000),  # offsets decrease
        (bytes.fromhex("0000000500000064" "0000000600000064"), 1000),  # positions do not increase
        (bytes.fromhex("0000000500000064"), 50),  # position beyond the segment
    ],
)
def test_damaged_offset_index_is_refused(data, segment_bytes):
    """Goal: an index file that cannot describe its segment raises IndexCorruptError."""
    with pytest.raises(IndexCorruptError):
        OffsetIndex.from_bytes(0, data, segment_bytes=segment_bytes)


def test_time_index_keeps_running_maximum_and_finds_last_older_entry():
    """Goal: only rising timestamps are kept; last_before finds the last entry strictly older."""
    index = TimeIndex(0)
    index.maybe_append(100, 0)
    index.maybe_append(90, 3)  # not a new maximum
    index.maybe_append(200, 5)
    assert len(index) == 2
    assert index.last_before(100) is None
    assert index.last_before(101) == (100, 0)
    assert index.last_before(10**9) == (200, 5)
    again = TimeIndex.from_bytes(0, index.to_bytes(), next_offset=6)
    assert again.last_entry == (200, 5)
    with pytest.raises(IndexCorruptError):
        TimeIndex.from_bytes(0, index.to_bytes(), next_offset=5)  # names offset 5, past the end
    with pytest.raises(IndexCorruptError):
        TimeIndex.from_bytes(0, index.to_bytes()[:-1])
    index.truncate_to(5)
    assert index.last_entry == (100, 0)
