"""Produce validation: header-only checks with Kafka's error codes."""

import struct

import pytest

from rafka.broker.replica.produce_validation import iter_headers, stamp_log_append_time, validate_produce_batch
from rafka.log.batch import CONTROL_BIT, TRANSACTIONAL_BIT, parse_header, validate_batch, write_crc
from rafka.log.records import Record, build_batch, decode_batch
from rafka.netproto.errors import ErrorCode, RafkaError


def batch(n=3, **kw) -> bytes:
    return build_batch([Record(b"k", b"v%d" % i) for i in range(n)], timestamp_ms=1000, **kw)


def code_of(buf, max_bytes=1 << 20):
    with pytest.raises(RafkaError) as e:
        validate_produce_batch(buf, max_message_bytes=max_bytes)
    return e.value.code


def patched(buf: bytes, pos: int, fmt: str, value, fix_crc=True) -> bytes:
    b = bytearray(buf)
    struct.pack_into(fmt, b, pos, value)
    if fix_crc:
        write_crc(b, 0, len(b))
    return bytes(b)


def test_valid_batch_passes():
    """Goal: a well-formed batch returns its header."""
    h = validate_produce_batch(batch(3), max_message_bytes=1 << 20)
    assert h.record_count == 3


def test_errors():
    """Goal: each bad input maps to Kafka's error code."""
    good = batch(3)
    assert code_of(good[:30]) == ErrorCode.CORRUPT_MESSAGE
    assert code_of(patched(good, 16, ">b", 1, fix_crc=False)) == ErrorCode.CORRUPT_MESSAGE  # magic 1
    bad_crc = bytearray(good)
    bad_crc[-1] ^= 0xFF
    assert code_of(bytes(bad_crc)) == ErrorCode.CORRUPT_MESSAGE
    assert code_of(patched(good, 57, ">i", 5)) == ErrorCode.CORRUPT_MESSAGE  # record count vs delta
    assert code_of(good, max_bytes=len(good) - 1) == ErrorCode.MESSAGE_TOO_LARGE
    assert code_of(good + good) == ErrorCode.INVALID_RECORD
    assert code_of(good[:-1]) == ErrorCode.CORRUPT_MESSAGE
    ctl = batch(1, is_control=True)
    assert code_of(ctl) == ErrorCode.INVALID_RECORD
    attrs = struct.unpack_from(">h", good, 21)[0]
    assert code_of(patched(good, 21, ">h", attrs | TRANSACTIONAL_BIT)) == ErrorCode.INVALID_RECORD
    assert code_of(patched(good, 21, ">h", attrs | 7)) == ErrorCode.CORRUPT_MESSAGE  # codec 7
    assert CONTROL_BIT


def test_log_append_time_stamp_keeps_crc_valid():
    """Goal: LogAppendTime rewrites the timestamp type and max timestamp with a valid CRC."""
    b = bytearray(batch(2))
    stamp_log_append_time(b, 123456)
    h = validate_batch(bytes(b))
    assert h.timestamp_type == 1 and h.max_timestamp == 123456
    decode_batch(bytes(b))


def test_iter_headers_stops_at_partial_batch():
    """Goal: walking a log read yields whole batches only."""
    a, b = batch(2), batch(4)
    hs = list(iter_headers(a + b + b[:20]))
    assert [h.record_count for h in hs] == [2, 4]
    assert parse_header(a).record_count == 2
