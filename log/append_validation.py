"""Checking bytes handed to PartitionLog.append before any of them is written.

Why a module of its own: validation is pure (bytes in, batch metadata or a
typed error out) and is the hottest code of an append, so it is kept apart
from the file handling and locking of log/partition_log.py.

Invariant: `validate_append` either raises a LogError subclass or returns
one BatchMeta per whole, valid batch covering `view` exactly; the log is
written only after it returns.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import crc32c

from rafka.log.batch import ATTRIBUTES_POS, HEADER_SIZE, LENGTH_OVERHEAD, MAGIC, validate_batch
from rafka.log.epoch_cache import LeaderEpochCache
from rafka.log.errors import BatchTooLargeError, CorruptBatchError

_BASE_AND_LENGTH = struct.Struct(">qi")
# The RecordBatch v2 header as laid out in log/batch.py's docstring; used only
# for the one-batch fast check (validate_batch stays the authority).
_HEADER = struct.Struct(">qiibIhiqqqhii")


class BatchMeta(NamedTuple):
    """What an append needs to know of one batch, read from its header."""

    base_offset: int
    size: int
    last_offset_delta: int
    max_timestamp: int
    partition_leader_epoch: int


def validate_append(view: memoryview, total: int, batch_bytes_max: int) -> list[BatchMeta]:
    """BatchMeta of each whole batch in `view` (`total` bytes), checked like
    validate_batch (length, magic, CRC, record count) and against
    `batch_bytes_max`.

    The common case, one batch, is checked here with one unpack and one CRC
    (building a BatchHeader costs as much as the CRC); anything that does not
    pass goes through validate_batch, the authority, which raises the typed
    error.
    """
    if HEADER_SIZE <= total <= batch_bytes_max:
        (base, length, epoch, magic, crc, _, last_delta, _, max_ts, _, _, _, count) = _HEADER.unpack_from(view)
        if (length + LENGTH_OVERHEAD == total and magic == MAGIC and count == last_delta + 1 and count >= 1
                and crc32c.crc32c(view[ATTRIBUTES_POS:]) == crc):
            return [BatchMeta(base, total, last_delta, max_ts, epoch)]
    if total == 0:
        raise CorruptBatchError("empty append")
    metas = []
    pos = 0
    while pos < total:
        if total - pos >= 12:
            size = _BASE_AND_LENGTH.unpack_from(view, pos)[1] + LENGTH_OVERHEAD
            if size > batch_bytes_max:
                raise BatchTooLargeError(
                    f"batch at position {pos} is {size} bytes, over batch_bytes_max {batch_bytes_max}")
        h = validate_batch(view, pos)
        metas.append(BatchMeta(h.base_offset, h.size, h.last_offset_delta, h.max_timestamp, h.partition_leader_epoch))
        pos += h.size
    return metas


def learn_epochs(epochs: LeaderEpochCache, metas: list[BatchMeta], base_offset: int, leader_epoch: int | None) -> None:
    """Record each new leader epoch at the offset where it starts; the
    batches were appended from `base_offset` on, stamped with `leader_epoch`
    if given, else keeping their own."""
    for meta in metas:
        epoch = leader_epoch if leader_epoch is not None else meta.partition_leader_epoch
        if epoch >= 0 and epoch > epochs.latest_epoch:
            epochs.assign(epoch, base_offset, persist=False)  # written after the data's fsync
        base_offset += meta.last_offset_delta + 1
