"""Kafka's zigzag variable-length integers (protobuf-style), as used inside
RecordBatch v2 records.

Why zigzag: small negative numbers (a null key's length -1) stay one byte.
A varint holds a signed 32-bit value in at most 5 bytes, a varlong a signed
64-bit value in at most 10. Decoding rejects truncated input, encodings
longer than the maximum, and values outside the signed range, always with
CorruptBatchError: these bytes come from disk or the network, so bad input is
expected and must never surface as IndexError or a silently wrong number.
"""

from __future__ import annotations

from rafka.log.errors import CorruptBatchError

VARINT_BYTES_MAX = 5
VARLONG_BYTES_MAX = 10

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def zigzag_encode(value: int, bits: int) -> int:
    """Map a signed integer to an unsigned one: 0,-1,1,-2 -> 0,1,2,3."""
    return ((value << 1) ^ (value >> (bits - 1))) & ((1 << bits) - 1)


def zigzag_decode(raw: int) -> int:
    return (raw >> 1) ^ -(raw & 1)


def _write_unsigned(out: bytearray, raw: int) -> None:
    while raw > 0x7F:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)


def write_varint(out: bytearray, value: int) -> None:
    """Append a signed 32-bit zigzag varint to `out`."""
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueError(f"varint out of int32 range: {value}")
    _write_unsigned(out, zigzag_encode(value, 32))


def write_varlong(out: bytearray, value: int) -> None:
    """Append a signed 64-bit zigzag varlong to `out`."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"varlong out of int64 range: {value}")
    _write_unsigned(out, zigzag_encode(value, 64))


def encode_varint(value: int) -> bytes:
    out = bytearray()
    write_varint(out, value)
    return bytes(out)


def encode_varlong(value: int) -> bytes:
    out = bytearray()
    write_varlong(out, value)
    return bytes(out)


def varint_size(value: int) -> int:
    """Bytes write_varint would use for `value`."""
    raw = zigzag_encode(value, 32)
    size = 1
    while raw > 0x7F:
        raw >>= 7
        size += 1
    return size


def _read_unsigned(buf, pos: int, end: int, bytes_max: int, bits: int, what: str) -> tuple[int, int]:
    raw = 0
    shift = 0
    start = pos
    while True:
        if pos >= end:
            raise CorruptBatchError(f"truncated {what} at position {start}")
        if pos - start >= bytes_max:
            raise CorruptBatchError(f"{what} longer than {bytes_max} bytes at position {start}")
        byte = buf[pos]
        pos += 1
        raw |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    if raw >> bits:
        raise CorruptBatchError(f"{what} out of range at position {start}")
    return raw, pos


def read_varint(buf, pos: int = 0, end: int | None = None) -> tuple[int, int]:
    """Decode a signed 32-bit varint at `pos`; returns (value, next_pos).

    `end` bounds the read (default len(buf)), so a record cannot read past
    its own length into the next one.
    """
    raw, pos = _read_unsigned(
        buf, pos, len(buf) if end is None else end, VARINT_BYTES_MAX, 32, "varint"
    )
    return (raw >> 1) ^ -(raw & 1), pos


def read_varlong(buf, pos: int = 0, end: int | None = None) -> tuple[int, int]:
    """Decode a signed 64-bit varlong at `pos`; returns (value, next_pos)."""
    raw, pos = _read_unsigned(
        buf, pos, len(buf) if end is None else end, VARLONG_BYTES_MAX, 64, "varlong"
    )
    return (raw >> 1) ^ -(raw & 1), pos
