"""Typed errors of the segment log. Bad input and bad disks raise these;
`assert` is kept for programmer errors only."""

from __future__ import annotations


class LogError(Exception):
    """Base of every error the log raises on bad input or bad files."""


class CorruptBatchError(LogError):
    """A record batch failed validation: bad CRC, wrong magic, impossible
    length, or a record count that does not match its header."""


class UnsupportedCodecError(LogError):
    """A batch's records use a compression codec this build cannot decode."""


class OffsetOutOfRangeError(LogError):
    """A read asked for an offset outside [log_start_offset, log_end_offset]."""


class NotASegmentError(LogError):
    """A file is not a segment file (wrong name, or not record batches)."""


class LogDirError(LogError):
    """A log directory is unusable (unreadable, or holds unexpected files)."""


class BatchTooLargeError(CorruptBatchError):
    """A batch is bigger than LogConfig.batch_bytes_max (Kafka MESSAGE_TOO_LARGE)."""


class InvalidOffsetError(LogError):
    """An append with assign_offsets=False does not continue the log at
    log_end_offset with contiguous offsets."""


class LogClosedError(LogError):
    """The log was closed (or taken offline after an I/O error)."""
