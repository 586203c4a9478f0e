"""RecordBatch v2 header-only API: parse, validate (CRC, length, count) and
patch base offset / leader epoch without touching the CRC."""

from __future__ import annotations

import struct

import crc32c
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rafka.log.batch import (
    HEADER_SIZE,
    LENGTH_OVERHEAD,
    MAGIC,
    parse_header,
    set_base_offset,
    set_partition_leader_epoch,
    validate_batch,
)
from rafka.log.errors import CorruptBatchError
from rafka.log.records import Record, build_batch


def make(n=3, **kwargs):
    kwargs.setdefault("timestamp_ms", 1_700_000_000_000)
    return build_batch([Record(b"k%d" % i, b"v" * i) for i in range(n)], **kwargs)


def refresh_crc(buf: bytearray) -> None:
    struct.pack_into(">I", buf, 17, crc32c.crc32c(bytes(buf[21:])))


def test_constants():
    """Goal: the header constants are Kafka's."""
    assert (HEADER_SIZE, MAGIC, LENGTH_OVERHEAD) == (61, 2, 12)


def test_parse_header_fields():
    """Goal: every header field reads back what build_batch wrote."""
    data = make(3, base_offset=100, partition_leader_epoch=7, producer_id=9,
                producer_epoch=2, base_sequence=5, compression=1, is_transactional=True)
    h = parse_header(data)
    assert (h.base_offset, h.partition_leader_epoch, h.magic) == (100, 7, 2)
    assert (h.producer_id, h.producer_epoch, h.base_sequence) == (9, 2, 5)
    assert (h.record_count, h.last_offset_delta, h.last_offset, h.next_offset) == (3, 2, 102, 103)
    assert h.size == len(data) == h.batch_length + 12
    assert h.compression == 1 and h.is_transactional and not h.is_control
    assert h.base_timestamp == h.max_timestamp == 1_700_000_000_000


def test_control_flag():
    """Goal: attribute bit 5 reads as is_control."""
    assert parse_header(make(1, is_control=True)).is_control


def test_parse_at_position_in_concatenation():
    """Goal: batches concatenated in a segment are found by walking sizes."""
    a, b = make(2, base_offset=0), make(4, base_offset=2)
    buf = a + b
    h1 = validate_batch(buf, 0)
    h2 = validate_batch(buf, h1.size)
    assert (h1.base_offset, h2.base_offset, h1.size + h2.size) == (0, 2, len(buf))


@given(st.integers(0, 2**63 - 1), st.integers(-(2**31), 2**31 - 1))
def test_set_fields_keeps_crc_valid(base_offset, epoch):
    """Goal: stamping base offset and epoch needs no CRC work and keeps the batch valid."""
    prefix = b"x" * 5
    buf = bytearray(prefix + make(2))
    set_base_offset(buf, 5, base_offset)
    set_partition_leader_epoch(buf, 5, epoch)
    h = validate_batch(buf, 5)
    assert (h.base_offset, h.partition_leader_epoch) == (base_offset, epoch)
    assert buf[:5] == prefix


def test_validate_accepts_memoryview_and_bytearray():
    """Goal: the hot path takes zero-copy buffers."""
    data = make(2)
    assert validate_batch(memoryview(data)).record_count == 2
    assert validate_batch(bytearray(data)).record_count == 2


def test_short_header_raises():
    """Goal: fewer than 61 bytes is a typed error."""
    with pytest.raises(CorruptBatchError, match="truncated batch header"):
        parse_header(make(1)[:60])


def test_wrong_magic_raises():
    """Goal: magic other than 2 is rejected before any CRC work."""
    buf = bytearray(make(1))
    buf[16] = 1
    with pytest.raises(CorruptBatchError, match="magic"):
        parse_header(buf)


@pytest.mark.parametrize("length", [-1, 0, 48])
def test_impossible_length_raises(length):
    """Goal: a batch_length shorter than an empty batch is rejected."""
    buf = bytearray(make(1))
    struct.pack_into(">i", buf, 8, length)
    with pytest.raises(CorruptBatchError, match="impossible batch length"):
        parse_header(buf)


def test_truncated_body_raises():
    """Goal: a batch whose body is cut off (a torn write) is rejected."""
    data = make(3)
    with pytest.raises(CorruptBatchError, match="truncated batch"):
        validate_batch(data[:-1])


def test_max_batch_bytes():
    """Goal: a batch over the configured limit is rejected."""
    data = make(3)
    assert validate_batch(data, max_batch_bytes=len(data)).size == len(data)
    with pytest.raises(CorruptBatchError, match="over the limit"):
        validate_batch(data, max_batch_bytes=len(data) - 1)


@given(st.data())
def test_any_flipped_byte_in_crc_range_is_caught(data):
    """Goal: flipping any bit from attributes to the end fails validation."""
    buf = bytearray(make(3, compression=data.draw(st.sampled_from([0, 1]))))
    pos = data.draw(st.integers(21, len(buf) - 1))
    buf[pos] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(CorruptBatchError):
        validate_batch(buf)


def test_bad_crc_message():
    """Goal: a CRC mismatch says so."""
    buf = bytearray(make(2))
    buf[-1] ^= 0xFF
    with pytest.raises(CorruptBatchError, match="CRC mismatch"):
        validate_batch(buf)


@pytest.mark.parametrize("count, last_delta", [(0, -1), (4, 2), (-1, 2)])
def test_record_count_mismatch_raises(count, last_delta):
    """Goal: record_count may not exceed last_offset_delta + 1 (nor be
    negative), and last_offset_delta is never negative."""
    buf = bytearray(make(3))
    struct.pack_into(">i", buf, 57, count)
    struct.pack_into(">i", buf, 23, last_delta)
    refresh_crc(buf)
    with pytest.raises(CorruptBatchError, match="record_count"):
        validate_batch(buf)


@pytest.mark.parametrize("count", [0, 2])
def test_compacted_batch_holds_fewer_records_than_its_offsets(count):
    """Goal: a compacted batch keeps its offset range (last_offset_delta)
    with fewer records, down to none (Kafka's retained empty batch)."""
    buf = bytearray(make(3))
    struct.pack_into(">i", buf, 57, count)
    refresh_crc(buf)
    h = validate_batch(buf)
    assert (h.record_count, h.last_offset_delta) == (count, 2)
