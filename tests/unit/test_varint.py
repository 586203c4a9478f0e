"""Kafka zigzag varints: round trips, known encodings, and typed errors on bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rafka.log.errors import CorruptBatchError
from rafka.log.varint import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    encode_varint,
    encode_varlong,
    read_varint,
    read_varlong,
    varint_size,
)


@given(st.integers(INT32_MIN, INT32_MAX))
def test_varint_round_trip(value):
    """Goal: every int32 decodes to itself and consumes exactly its bytes."""
    data = encode_varint(value) + b"\x99"
    decoded, pos = read_varint(data)
    assert decoded == value
    assert pos == len(data) - 1 == varint_size(value)


@given(st.integers(INT64_MIN, INT64_MAX))
def test_varlong_round_trip(value):
    """Goal: every int64 decodes to itself and consumes exactly its bytes."""
    data = encode_varlong(value)
    assert read_varlong(data) == (value, len(data))
    assert len(data) <= 10


@pytest.mark.parametrize(
    "value, expected",
    [(0, "00"), (-1, "01"), (1, "02"), (-2, "03"), (63, "7e"), (-64, "7f"), (64, "8001"),
     (300, "d804"), (INT32_MAX, "feffffff0f"), (INT32_MIN, "ffffffff0f")],
)
def test_known_zigzag_encodings(value, expected):
    """Goal: our bytes are Kafka's (zigzag then LEB128), checked by hand."""
    assert encode_varint(value).hex() == expected


def test_truncated_varint_raises():
    """Goal: a varint cut off mid-way is a CorruptBatchError, not IndexError."""
    with pytest.raises(CorruptBatchError, match="truncated"):
        read_varint(b"\x80\x80")
    with pytest.raises(CorruptBatchError, match="truncated"):
        read_varint(b"")


def test_end_bounds_the_read():
    """Goal: a read may not run past `end`, the end of the enclosing record."""
    with pytest.raises(CorruptBatchError, match="truncated"):
        read_varint(b"\x80\x01", 0, 1)


def test_overlong_varint_raises():
    """Goal: more than 5 bytes for a varint (10 for a varlong) is rejected."""
    with pytest.raises(CorruptBatchError, match="longer"):
        read_varint(b"\x80\x80\x80\x80\x80\x00")
    with pytest.raises(CorruptBatchError, match="longer"):
        read_varlong(b"\x80" * 10 + b"\x00")


def test_out_of_range_varint_raises():
    """Goal: a 5-byte varint carrying more than 32 bits is rejected."""
    with pytest.raises(CorruptBatchError, match="range"):
        read_varint(b"\xff\xff\xff\xff\x1f")
    with pytest.raises(CorruptBatchError, match="range"):
        read_varlong(b"\xff" * 9 + b"\x03")


def test_encode_out_of_range_is_programmer_error():
    """Goal: encoding a value outside int32 fails loudly rather than wrapping."""
    with pytest.raises(ValueError):
        encode_varint(INT32_MAX + 1)
