"""Checking a producer's record batch before it is appended (pure).

Header-only, like Kafka's LogValidator on the no-recompression path: one
header parse and one CRC pass per batch, never a loop over records. Errors
are Kafka's codes as RafkaError:

- fewer bytes than a header, impossible length, magic != 2, CRC mismatch,
  record_count != last_offset_delta + 1, an unknown codec: CORRUPT_MESSAGE;
- a control batch from a client, or not exactly one batch (Kafka: produce
  v3+ carries exactly one batch per partition), or a transactional batch
  (no transactions yet): INVALID_RECORD;
- a batch bigger than max.message.bytes: MESSAGE_TOO_LARGE.

`stamp_log_append_time` rewrites a batch for message.timestamp.type =
LogAppendTime: the attributes' timestamp-type bit and max_timestamp are
inside the CRC, so the CRC is recomputed (one pass; still no record loop).
"""

from __future__ import annotations

import struct

from rafka.log.batch import (
    HEADER_SIZE,
    LENGTH_OVERHEAD,
    MAGIC,
    MAGIC_POS,
    TIMESTAMP_TYPE_BIT,
    BatchHeader,
    compute_crc,
    parse_header,
    write_crc,
)
from rafka.log.errors import CorruptBatchError
from rafka.netproto.errors import ErrorCode, RafkaError

CODEC_MAX = 4  # zstd
_ATTRIBUTES = struct.Struct(">h")
_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
ATTRIBUTES_POS = 21
MAX_TIMESTAMP_POS = 35


def validate_produce_batch(buf, *, max_message_bytes: int) -> BatchHeader:
    """The header of the one valid batch in `buf`, or RafkaError."""
    total = len(buf)
    if total < HEADER_SIZE:
        raise RafkaError(ErrorCode.CORRUPT_MESSAGE, f"{total} bytes is shorter than a batch header")
    if buf[MAGIC_POS] != MAGIC:
        raise RafkaError(ErrorCode.CORRUPT_MESSAGE, f"batch magic {buf[MAGIC_POS]}, only magic {MAGIC} is accepted")
    try:
        h = parse_header(buf, 0)
    except CorruptBatchError as exc:
        raise RafkaError(ErrorCode.CORRUPT_MESSAGE, str(exc)) from None
    if h.size > max_message_bytes:
        raise RafkaError(ErrorCode.MESSAGE_TOO_LARGE,
                         f"batch of {h.size} bytes is over max.message.bytes {max_message_bytes}")
    if h.size > total:
        raise RafkaError(ErrorCode.CORRUPT_MESSAGE, f"truncated batch: {total} of {h.size} bytes")
    if h.size < total:
        raise RafkaError(ErrorCode.INVALID_RECORD, "a produce carries exactly one record batch per partition")
    if compute_crc(buf, 0, h.size) != h.crc:
        raise RafkaError(ErrorCode.CORRUPT_MESSAGE, "batch CRC mismatch")
    if h.record_count < 1 or h.record_count != h.last_offset_delta + 1:
        raise RafkaError(ErrorCode.CORRUPT_MESSAGE,
                         f"record_count {h.record_count} does not match last_offset_delta {h.last_offset_delta}")
    if h.compression > CODEC_MAX:
        raise RafkaError(ErrorCode.CORRUPT_MESSAGE, f"unknown compression codec {h.compression}")
    if h.is_control:
        raise RafkaError(ErrorCode.INVALID_RECORD, "clients may not produce control batches")
    if h.is_transactional:
        raise RafkaError(ErrorCode.INVALID_RECORD, "transactional batches are not supported")
    if h.producer_id >= 0 and (h.producer_epoch < 0 or h.base_sequence < 0):
        raise RafkaError(ErrorCode.INVALID_RECORD,
                         f"idempotent batch of producer {h.producer_id} lacks an epoch or a sequence")
    return h


def stamp_log_append_time(buf: bytearray, now_ms: int) -> None:
    """Mark the batch LogAppendTime with max_timestamp `now_ms`, new CRC."""
    attributes = _ATTRIBUTES.unpack_from(buf, ATTRIBUTES_POS)[0]
    _ATTRIBUTES.pack_into(buf, ATTRIBUTES_POS, attributes | TIMESTAMP_TYPE_BIT)
    _INT64.pack_into(buf, MAX_TIMESTAMP_POS, now_ms)
    size = _INT32.unpack_from(buf, 8)[0] + LENGTH_OVERHEAD
    write_crc(buf, 0, size)


def iter_headers(buf):
    """Headers of the whole batches in `buf` (a log read), in order; stops
    at a trailing partial batch. Header-only."""
    pos, total = 0, len(buf)
    while total - pos >= HEADER_SIZE:
        h = parse_header(buf, pos)
        if pos + h.size > total:
            return
        yield h
        pos += h.size


__all__ = ["iter_headers", "stamp_log_append_time", "validate_produce_batch"]
