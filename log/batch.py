"""Kafka RecordBatch v2 header: parse, validate and patch without touching records.

Why: the broker stores client batches byte for byte and serves them back, so
the append path must validate a batch (header + CRC-32C) and stamp its base
offset and partition leader epoch without looping over its records. Every
function here works on the fixed 61-byte header plus one CRC over the body,
reading from a memoryview so no bytes are copied.

Layout (big-endian), offsets from the batch start:

    0  base_offset            int64   \\ LENGTH_OVERHEAD (12 bytes): not
    8  batch_length           int32   /  counted by batch_length
    12 partition_leader_epoch int32
    16 magic                  int8    (must be 2)
    17 crc                    uint32  CRC-32C over bytes 21 .. end
    21 attributes             int16   bits 0-2 codec, 3 timestamp type,
                                      4 transactional, 5 control
    23 last_offset_delta      int32
    27 base_timestamp         int64
    35 max_timestamp          int64
    43 producer_id            int64
    51 producer_epoch         int16
    53 base_sequence          int32
    57 record_count           int32
    61 records ...

Invariant: a batch occupies exactly `batch_length + LENGTH_OVERHEAD` bytes,
and base offset and partition leader epoch lie outside the CRC, so patching
them never requires recomputing it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c

from rafka.log.errors import CorruptBatchError

HEADER_SIZE = 61
MAGIC = 2
LENGTH_OVERHEAD = 12

# Offsets of the fields we touch individually.
PARTITION_LEADER_EPOCH_POS = 12
MAGIC_POS = 16
CRC_POS = 17
ATTRIBUTES_POS = 21

# batch_length counts everything after the batch_length field, so a batch with
# no records has exactly this length.
MIN_BATCH_LENGTH = HEADER_SIZE - LENGTH_OVERHEAD

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_BIT = 0x08
TRANSACTIONAL_BIT = 0x10
CONTROL_BIT = 0x20

_HEADER = struct.Struct(">qiibIhiqqqhii")
_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")

assert _HEADER.size == HEADER_SIZE


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """The decoded 61-byte header of one RecordBatch v2."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def size(self) -> int:
        """Bytes the whole batch occupies on disk and on the wire."""
        return self.batch_length + LENGTH_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        """0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd."""
        return self.attributes & COMPRESSION_MASK

    @property
    def timestamp_type(self) -> int:
        """0 CreateTime, 1 LogAppendTime."""
        return 1 if self.attributes & TIMESTAMP_TYPE_BIT else 0

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_BIT)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_BIT)


def parse_header(buf, pos: int = 0) -> BatchHeader:
    """Decode the header at `pos` without looking at the records or the CRC.

    Raises CorruptBatchError when fewer than HEADER_SIZE bytes remain, when
    batch_length is impossible (shorter than an empty batch), or when magic
    is not 2. The body may still be absent; use validate_batch for that.
    """
    if pos < 0:
        raise CorruptBatchError(f"negative batch position {pos}")
    available = len(buf) - pos
    if available < HEADER_SIZE:
        raise CorruptBatchError(
            f"truncated batch header at position {pos}: "
            f"{max(available, 0)} of {HEADER_SIZE} bytes"
        )
    fields = _HEADER.unpack_from(buf, pos)
    batch_length = fields[1]
    if batch_length < MIN_BATCH_LENGTH:
        raise CorruptBatchError(
            f"impossible batch length {batch_length} at position {pos} "
            f"(minimum {MIN_BATCH_LENGTH})"
        )
    magic = fields[3]
    if magic != MAGIC:
        raise CorruptBatchError(f"unsupported batch magic {magic} at position {pos} (need {MAGIC})")
    return BatchHeader(*fields)


def compute_crc(buf, pos: int, size: int) -> int:
    """CRC-32C over attributes..end of the batch at `pos` of `size` bytes."""
    view = memoryview(buf)
    try:
        return crc32c.crc32c(view[pos + ATTRIBUTES_POS : pos + size])
    finally:
        view.release()


def validate_batch(buf, pos: int = 0, *, max_batch_bytes: int | None = None) -> BatchHeader:
    """Check one whole batch at `pos`: header, presence of its body, CRC and
    record count, with one CRC pass and no per-record work.

    Raises CorruptBatchError naming what is wrong and where.
    """
    header = parse_header(buf, pos)
    size = header.batch_length + LENGTH_OVERHEAD
    if max_batch_bytes is not None and size > max_batch_bytes:
        raise CorruptBatchError(
            f"batch at position {pos} is {size} bytes, over the limit of {max_batch_bytes}"
        )
    available = len(buf) - pos
    if available < size:
        raise CorruptBatchError(
            f"truncated batch at position {pos}: {available} of {size} bytes present"
        )
    actual = compute_crc(buf, pos, size)
    if actual != header.crc:
        raise CorruptBatchError(
            f"CRC mismatch in batch at position {pos}: "
            f"stored {header.crc:#010x}, computed {actual:#010x}"
        )
    # A compacted batch (log/compaction.py) keeps its offset range but may
    # hold fewer records, down to none; producers' batches are held to
    # record_count == last_offset_delta + 1 by the broker's produce check.
    if header.last_offset_delta < 0 or not 0 <= header.record_count <= header.last_offset_delta + 1:
        raise CorruptBatchError(
            f"batch at position {pos} has record_count {header.record_count} "
            f"but last_offset_delta {header.last_offset_delta}"
        )
    return header


def set_base_offset(buf: bytearray, pos: int, base_offset: int) -> None:
    """Stamp the base offset (outside the CRC, so no CRC work)."""
    _INT64.pack_into(buf, pos, base_offset)


def set_partition_leader_epoch(buf: bytearray, pos: int, epoch: int) -> None:
    """Stamp the partition leader epoch (outside the CRC, so no CRC work)."""
    _INT32.pack_into(buf, pos + PARTITION_LEADER_EPOCH_POS, epoch)


def write_crc(buf: bytearray, pos: int, size: int) -> int:
    """Compute and store the CRC of a freshly built batch; returns it."""
    crc = compute_crc(buf, pos, size)
    _UINT32.pack_into(buf, pos + CRC_POS, crc)
    return crc


def pack_header(buf: bytearray, pos: int, header: BatchHeader) -> None:
    """Write all 61 header bytes (the builder's half of parse_header)."""
    _HEADER.pack_into(
        buf,
        pos,
        header.base_offset,
        header.batch_length,
        header.partition_leader_epoch,
        header.magic,
        header.crc,
        header.attributes,
        header.last_offset_delta,
        header.base_timestamp,
        header.max_timestamp,
        header.producer_id,
        header.producer_epoch,
        header.base_sequence,
        header.record_count,
    )
