"""Records inside a RecordBatch v2: build a batch from records, decode one.

Why separate from log/batch.py: this module loops over individual records,
which the broker's append path must never do. Producers, consumers, the Raft
log, tests and `rafka dump-log` use it.

Record layout (inside the batch body, after optional compression):

    length          varint   bytes of the rest of this record
    attributes      int8     unused, 0
    timestamp_delta varlong  from the batch's base_timestamp
    offset_delta    varint   from the batch's base_offset
    key_length      varint   -1 for a null key
    key             bytes
    value_length    varint   -1 for a null value
    value           bytes
    header_count    varint
    headers         header_count x (key_length varint, key utf-8,
                                    value_length varint (-1 null), value)

Invariant of build_batch: offset deltas are 0..n-1, so record_count ==
last_offset_delta + 1 and the batch passes validate_batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from rafka.log.batch import (
    CONTROL_BIT,
    HEADER_SIZE,
    LENGTH_OVERHEAD,
    MAGIC,
    TRANSACTIONAL_BIT,
    BatchHeader,
    pack_header,
    validate_batch,
    write_crc,
)
from rafka.log.compression import CODEC_NAMES, DECOMPRESSED_BYTES_MAX, compress, decompress
from rafka.log.errors import CorruptBatchError
from rafka.log.varint import read_varint, read_varlong, write_varint, write_varlong

# The smallest possible record: length, attributes, timestamp delta, offset
# delta, key length, value length, header count, one byte each.
RECORD_BYTES_MIN = 7


@dataclass(frozen=True, slots=True)
class Record:
    """A record to build into a batch. `timestamp_ms` None means the batch's
    `timestamp_ms`. Headers are (key, value) pairs: str key, bytes|None value."""

    key: bytes | None
    value: bytes | None
    headers: tuple = ()
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """A record read back from a batch, with its absolute offset."""

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple = ()


def _write_bytes(out: bytearray, data) -> None:
    if data is None:
        write_varint(out, -1)
        return
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            "record keys, values and header values must be bytes or None, "
            f"not {type(data).__name__}"
        )
    write_varint(out, len(data))
    out += data


def _encode_record(out: bytearray, record: Record, offset_delta: int, timestamp_delta: int) -> None:
    body = bytearray(b"\x00")  # attributes
    write_varlong(body, timestamp_delta)
    write_varint(body, offset_delta)
    _write_bytes(body, record.key)
    _write_bytes(body, record.value)
    write_varint(body, len(record.headers))
    for header_key, header_value in record.headers:
        if not isinstance(header_key, str):
            raise TypeError(f"header keys must be str, not {type(header_key).__name__}")
        _write_bytes(body, header_key.encode("utf-8"))
        _write_bytes(body, header_value)
    write_varint(out, len(body))
    out += body


def build_batch(
    records: Iterable[Record],
    *,
    base_offset: int = 0,
    partition_leader_epoch: int = -1,
    timestamp_ms: int,
    compression: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    is_control: bool = False,
    is_transactional: bool = False,
) -> bytes:
    """Encode `records` (at least one) as one RecordBatch v2 with a valid CRC.

    The base timestamp is the first record's timestamp; later records are
    stored as (possibly negative) deltas from it.
    """
    records = list(records)
    if not records:
        raise ValueError("a batch holds at least one record")
    if compression not in (0, 1):
        # Only none and gzip can be built; compress() names the codec.
        compress(compression, b"")
    timestamps = [timestamp_ms if r.timestamp_ms is None else r.timestamp_ms for r in records]
    base_timestamp = timestamps[0]
    body = bytearray()
    for offset_delta, (record, ts) in enumerate(zip(records, timestamps)):
        _encode_record(body, record, offset_delta, ts - base_timestamp)
    if compression:
        body = compress(compression, body)
    attributes = compression
    if is_transactional:
        attributes |= TRANSACTIONAL_BIT
    if is_control:
        attributes |= CONTROL_BIT
    size = HEADER_SIZE + len(body)
    buf = bytearray(size)
    header = BatchHeader(
        base_offset=base_offset,
        batch_length=size - LENGTH_OVERHEAD,
        partition_leader_epoch=partition_leader_epoch,
        magic=MAGIC,
        crc=0,
        attributes=attributes,
        last_offset_delta=len(records) - 1,
        base_timestamp=base_timestamp,
        max_timestamp=max(timestamps),
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        record_count=len(records),
    )
    pack_header(buf, 0, header)
    buf[HEADER_SIZE:] = body
    write_crc(buf, 0, size)
    return bytes(buf)


def _read_bytes(body, pos: int, end: int, what: str) -> tuple[bytes | None, int]:
    length, pos = read_varint(body, pos, end)
    if length == -1:
        return None, pos
    if length < -1 or pos + length > end:
        raise CorruptBatchError(f"impossible {what} length {length}")
    return bytes(body[pos : pos + length]), pos + length


def _decode_records(body, header: BatchHeader) -> list[DecodedRecord]:
    count = header.record_count
    end_of_body = len(body)
    if count * RECORD_BYTES_MIN > end_of_body:
        raise CorruptBatchError(
            f"record_count {count} cannot fit in {end_of_body} bytes of records"
        )
    log_append_time = header.timestamp_type == 1
    records = []
    pos = 0
    for index in range(count):
        length, pos = read_varint(body, pos, end_of_body)
        end = pos + length
        if length < RECORD_BYTES_MIN - 1 or end > end_of_body:
            raise CorruptBatchError(f"record {index} has impossible length {length}")
        pos += 1  # attributes: unused
        timestamp_delta, pos = read_varlong(body, pos, end)
        offset_delta, pos = read_varint(body, pos, end)
        key, pos = _read_bytes(body, pos, end, "key")
        value, pos = _read_bytes(body, pos, end, "value")
        header_count, pos = read_varint(body, pos, end)
        if header_count < 0 or header_count * 2 > end - pos:
            raise CorruptBatchError(f"record {index} has impossible header count {header_count}")
        headers = []
        for _ in range(header_count):
            raw_key, pos = _read_bytes(body, pos, end, "header key")
            if raw_key is None:
                raise CorruptBatchError(f"record {index} has a null header key")
            try:
                header_key = raw_key.decode("utf-8")
            except UnicodeDecodeError:
                raise CorruptBatchError(
                    f"record {index} has a header key that is not UTF-8"
                ) from None
            header_value, pos = _read_bytes(body, pos, end, "header value")
            headers.append((header_key, header_value))
        if pos != end:
            raise CorruptBatchError(f"record {index} length {length} does not match its fields")
        timestamp = header.max_timestamp if log_append_time else header.base_timestamp + timestamp_delta
        records.append(
            DecodedRecord(header.base_offset + offset_delta, timestamp, key, value, tuple(headers))
        )
    if pos != end_of_body:
        raise CorruptBatchError(
            f"record_count {count} does not match the batch: "
            f"{end_of_body - pos} bytes left after the last record"
        )
    return records


def decode_batch(
    buf, pos: int = 0, *, decompressed_bytes_max: int = DECOMPRESSED_BYTES_MAX
) -> tuple[BatchHeader, list[DecodedRecord]]:
    """Validate the batch at `pos` and decode its records.

    Raises CorruptBatchError (bad header, CRC, record layout, or a record
    count that does not match the header) or UnsupportedCodecError (snappy,
    lz4, zstd), the latter naming the codec.
    """
    header = validate_batch(buf, pos)
    return header, decode_records(buf, pos, header, decompressed_bytes_max=decompressed_bytes_max)


def decode_records(
    buf, pos: int, header: BatchHeader, *, decompressed_bytes_max: int = DECOMPRESSED_BYTES_MAX
) -> list[DecodedRecord]:
    """Decode the records of an already parsed batch without checking its CRC
    (dump-log uses this to show what a CRC-invalid batch claims to hold)."""
    view = memoryview(buf)[pos + HEADER_SIZE : pos + header.size]
    if len(view) != header.size - HEADER_SIZE:
        raise CorruptBatchError(f"truncated batch at position {pos}")
    if header.compression:
        if header.compression not in CODEC_NAMES:
            raise CorruptBatchError(f"unknown compression codec {header.compression}")
        body = decompress(header.compression, view, decompressed_bytes_max=decompressed_bytes_max)
    else:
        body = view
    return _decode_records(body, header)
