"""PartitionLog: one directory of segments, the unit the broker and Raft store.

Why: a partition (or the Raft metadata log) is an append-only sequence of
record batches with dense offsets. Appends look only at batch headers (one
CRC pass, offsets stamped outside the CRC); reads return whole stored batches
byte for byte; durability is group-committed by `flush()`. Checking appended
bytes lives in log/append_validation.py; moving the log's ends (truncation,
deletion, retention) in log/retention.py and swapping in a compacted segment
in log/segment_swap.py, both called under this class's locks; flush, the
recovery point and close in log/log_durability.py (a mixin of this class).

Threading: every public method takes `_lock`. `flush()` may run in a worker
thread while `append()` runs in the caller's thread: it holds the lock only
to hand pending bytes to the OS and to publish its result, and fsyncs
outside it. `_flush_lock` serializes flushes with truncation and close, so a
recovery point is never written for data that was truncated meanwhile.

Invariants (under `_lock`):
- segments are sorted, contiguous, the last one is the active segment;
- log_start_offset <= log_end_offset == active.next_offset;
- flushed_offset <= log_end_offset, and every byte below it is fsynced;
- the persisted recovery point <= flushed_offset: recovery scans from it.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_right
from typing import Callable, NamedTuple

import structlog

from rafka.log.fs import OS_FS, FileSystem
from rafka.log.append_validation import learn_epochs, validate_append
from rafka.log.batch import HEADER_SIZE, set_base_offset, set_partition_leader_epoch
from rafka.log.config import LogConfig
from rafka.log.epoch_cache import LeaderEpochCache
from rafka.log.errors import (BatchTooLargeError, CorruptBatchError, InvalidOffsetError, LogClosedError, LogDirError,
                        OffsetOutOfRangeError)
from rafka.log.index import IndexCorruptError
from rafka.log.log_durability import RECOVERY_POINT_NAME, LogDurability
from rafka.log.recovery import recover_log, scan_segment
from rafka.log.retention import LOG_START_NAME, delete_log_before, enforce_log_retention, truncate_log
from rafka.log.segment import INDEX_SUFFIX, NO_TIMESTAMP, Segment
from rafka.log.segment_handles import LogHandles, SegmentHandles
from rafka.log.segment_swap import replace_log_segment

# Bytes of a batch re-stamped on append: base offset (8), length (4), epoch (4).
_STAMP_BYTES = 16
RELATIVE_OFFSET_MAX = 2**31 - 1

_module_logger = structlog.get_logger("rafka.log")


class AppendInfo(NamedTuple):
    """Where an append landed: offsets [base_offset, last_offset], `size` bytes."""

    base_offset: int
    last_offset: int
    max_timestamp: int
    size: int


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


def roll_reason(active: Segment, incoming_bytes: int, incoming_last_offset: int, now_ms: int,
                config: LogConfig) -> str | None:
    """Why the non-empty active segment must be sealed before an append of
    `incoming_bytes` ending at `incoming_last_offset`, or None: the one roll
    rule (size, age, a full offset index, relative offsets that would
    overflow their 4-byte field)."""
    if active.size + incoming_bytes > config.segment_bytes_max:
        return "size"
    if now_ms - active.rolling_base_ms >= config.segment_ms_max:
        return "age"
    if len(active.index) >= config.index_entries_max:
        return "index_full"
    if incoming_last_offset - active.base_offset > RELATIVE_OFFSET_MAX:
        return "offset_range"
    return None


class PartitionLog(LogDurability):
    """See the module docstring; open with PartitionLog.open(path, config)."""

    def __init__(self, dir_path: str, config: LogConfig, now_ms: Callable[[], int], segments: list[Segment],
                 log_start_offset: int, recovery_point: int, epochs: LeaderEpochCache, log,
                 fs: FileSystem = OS_FS, *, lock: threading.RLock | None = None, handles: LogHandles | None = None):
        self.fs = fs
        self.dir_path = dir_path
        self.config = config
        self._now_ms = now_ms
        self._segments = segments
        self._bases = [s.base_offset for s in segments]
        self._log_start_offset = log_start_offset
        self._log_end_offset = segments[-1].next_offset
        self._flushed_offset = self._log_end_offset
        self._recovery_point = recovery_point
        self.leader_epochs = epochs
        self._log = log
        self._lock = lock or threading.RLock()
        self._handles = handles  # the broker's open-file cache (log/segment_handles.py), or None
        self._flush_lock = threading.Lock()
        self._dir_dirty = False
        self._truncate_gen = 0
        self._closed = False
        self._batch_bytes_max = config.batch_bytes_max
        self._write_buffer_bytes_max = config.write_buffer_bytes_max

    # ---- open ------------------------------------------------------------

    @classmethod
    def open(cls, path, config: LogConfig = LogConfig(), *, now_ms: Callable[[], int] | None = None,
             fs: FileSystem = OS_FS, logger=None, handles: SegmentHandles | None = None) -> "PartitionLog":
        """Open (creating if needed, fsynced into its parent) the log in
        directory `path`, recovering it as described in log/recovery.py.
        Everything kept is fsynced and the recovery point is the log end
        offset when this returns. `fs`: the file layer (log/fs.py);
        `logger`: a structlog logger carrying the caller's context (node);
        `handles`: the broker's bound on open segment files, shared by its
        logs (None: every segment stays open until closed)."""
        dir_path = os.fspath(path)
        now_ms = now_ms or _wall_clock_ms
        log = (logger or _module_logger).bind(log_dir=dir_path)
        owner: list[PartitionLog] = []
        lock = threading.RLock()  # held while recovering: the cache closes segments only under it
        log_handles = handles.for_log(lock) if handles is not None else None
        with lock:
            state = recover_log(
                dir_path,
                config,
                now_ms=now_ms,
                log_end_offset=lambda: owner[0].log_end_offset,
                recovery_point_name=RECOVERY_POINT_NAME,
                log_start_name=LOG_START_NAME,
                log=log,
                fs=fs,
                handles=log_handles,
            )
            self = cls(dir_path, config, now_ms, state.segments, state.log_start_offset, state.recovery_point,
                       state.epochs, log, fs, lock=lock, handles=log_handles)
            owner.append(self)
            self._park_all()
        log_start, log_end = self._log_start_offset, self._log_end_offset
        log.info("log_opened", log_start_offset=log_start, log_end_offset=log_end, segments=len(state.segments))
        return self

    # ---- offsets ---------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        return self._log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self._log_end_offset

    @property
    def flushed_offset(self) -> int:
        return self._flushed_offset

    @property
    def recovery_point(self) -> int:
        """The persisted recovery point: a reopen verifies from here."""
        return self._recovery_point

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    def segment_base_offsets(self) -> list[int]:
        with self._lock:
            return list(self._bases)

    # ---- append ----------------------------------------------------------

    def append(self, batch, *, assign_offsets: bool = True, leader_epoch: int | None = None) -> AppendInfo:
        """Append one or more whole batches (concatenated) atomically.

        Only headers are read: each batch is validated (length, magic, CRC,
        record count) before anything is written, so bad input raises a
        typed error and leaves the log exactly as it was.
        """
        view = batch if type(batch) is memoryview else memoryview(batch)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        total = len(view)
        metas = validate_append(view, total, self._batch_bytes_max)
        with self._lock:
            if self._closed:
                raise LogClosedError(f"log {self.dir_path} is closed")
            leo = self._log_end_offset
            if not assign_offsets:
                expected = leo
                for base, _, last_delta, _, _ in metas:
                    if base != expected:
                        raise InvalidOffsetError(f"batch base offset {base}, expected {expected}")
                    expected = base + last_delta + 1
            active = self._segments[-1]
            if active.size:
                records = metas[0][2] + 1 if len(metas) == 1 else sum(m[2] + 1 for m in metas)
                reason = roll_reason(active, total, leo + records - 1, self._now_ms(), self.config)
                if reason is not None:
                    active = self._roll(active, reason)
            elif active.rolling_base_ms is None:
                active.rolling_base_ms = self._now_ms()
            stamp = assign_offsets or leader_epoch is not None
            stable = type(view.obj) is bytes  # else the caller may reuse the memory
            buffer_max = self._write_buffer_bytes_max
            next_offset = leo
            pos = 0
            max_timestamp = NO_TIMESTAMP
            try:
                for _, size, last_delta, batch_max_timestamp, _ in metas:
                    end = next_offset + last_delta + 1
                    if stamp:
                        prefix = bytearray(view[pos : pos + _STAMP_BYTES])
                        set_base_offset(prefix, 0, next_offset)
                        if leader_epoch is not None:
                            set_partition_leader_epoch(prefix, 0, leader_epoch)
                        active.append_batch(prefix, view[pos + _STAMP_BYTES : pos + size],
                                            next_offset, end, batch_max_timestamp, buffer_max, stable)
                    else:
                        active.append_batch(b"", view[pos : pos + size], next_offset, end, batch_max_timestamp,
                                            buffer_max, stable)
                    if batch_max_timestamp > max_timestamp:
                        max_timestamp = batch_max_timestamp
                    next_offset = end
                    pos += size
            except OSError as exc:
                self._go_offline(exc)
            self._log_end_offset = next_offset
            epoch = leader_epoch if leader_epoch is not None else metas[-1][4]
            if epoch > self.leader_epochs.latest_epoch or len(metas) > 1:
                learn_epochs(self.leader_epochs, metas, leo, leader_epoch)
            return AppendInfo(leo, next_offset - 1, max_timestamp, total)

    def start_leader_epoch(self, epoch: int) -> None:
        """A leader's new epoch starts at the current log end, recorded when
        it becomes leader (as Kafka's leader does), so OffsetForLeaderEpoch
        for that epoch answers the log end before anything is appended in
        it. Checkpointed with the next flush (a crash before then loses only
        an entry the next leadership records again)."""
        with self._lock:
            if epoch > self.leader_epochs.latest_epoch:
                self.leader_epochs.assign(epoch, self._log_end_offset, persist=False)

    def _go_offline(self, exc: OSError) -> None:
        """A write or fsync failed: the file may hold part of a batch or lost
        pages, so stop serving this log (Kafka takes the log dir offline);
        reopening recovers it."""
        self._closed = True
        for seg in self._segments:
            try:
                seg.delete_pending_and_close()
            except OSError:
                pass
        self._log.error("log_offline", error=str(exc))
        raise LogDirError(f"I/O on {self.dir_path} failed, log taken offline: {exc}") from exc

    def _roll(self, active: Segment, reason: str) -> Segment:
        """Seal the (non-empty) active segment and start a new one at the log
        end, for `reason` (roll_reason). The new file's directory entry is
        made durable by the next flush (`_dir_dirty`), before the flush
        reports any offset in it as durable."""
        now = self._now_ms()
        cfg = self.config
        active.seal()
        new = Segment.create(self.dir_path, self._log_end_offset, index_interval_bytes=cfg.index_interval_bytes,
                             fs=self.fs, handles=self._handles)
        new.rolling_base_ms = now
        self._segments.append(new)
        self._bases.append(new.base_offset)
        self._dir_dirty = True
        self._log.info("segment_rolled", reason=reason, base_offset=new.base_offset, previous_bytes=active.size)
        return new

    # ---- read ------------------------------------------------------------

    def read(self, offset: int, max_bytes: int) -> bytes:
        """Whole batches starting with the one holding `offset`, up to
        `max_bytes` but at least one batch, from one segment; b"" at the log
        end; OffsetOutOfRangeError outside [log_start_offset, log_end_offset]."""
        with self._lock:
            self._check_open()
            if offset < self._log_start_offset or offset > self._log_end_offset:
                raise OffsetOutOfRangeError(
                    f"offset {offset} outside [{self._log_start_offset}, {self._log_end_offset}] of {self.dir_path}")
            if offset == self._log_end_offset:
                return b""
            max_bytes = max(max_bytes, 0)
            seg = self._segment_for(offset)
            try:
                return seg.read_batches(seg.batch_start_for(offset), max_bytes)
            except IndexCorruptError as exc:
                self._rebuild_index(seg, str(exc))
                return seg.read_batches(seg.batch_start_for(offset), max_bytes)

    def offset_for_timestamp(self, ts_ms: int) -> int | None:
        """Base offset of the first batch (at or after the log start) whose
        max_timestamp >= `ts_ms`, or None. Batch granularity: the append path
        never looks inside batches, so neither does this lookup."""
        with self._lock:
            self._check_open()
            start = self._log_start_offset
            for seg in self._segments:
                if seg.next_offset <= start or seg.max_timestamp < ts_ms:
                    continue
                entry = seg.time_index.last_before(ts_ms)
                from_offset = max(entry[1] if entry else seg.base_offset, start, seg.base_offset)
                try:
                    position = seg.batch_start_for(from_offset)
                except IndexCorruptError as exc:
                    self._rebuild_index(seg, str(exc))
                    position = seg.batch_start_for(from_offset)
                for _, header in seg.batch_headers(position):
                    if header.max_timestamp >= ts_ms:
                        return max(header.base_offset, start)
            return None

    def _segment_for(self, offset: int) -> Segment:
        return self._segments[bisect_right(self._bases, offset) - 1]

    def _rebuild_index(self, seg: Segment, reason: str) -> None:
        """Rebuild a segment's indexes after a lookup caught them lying."""
        self._log.warning("segment_index_rebuilt", file=seg.path(INDEX_SUFFIX), reason=reason)
        expected_end = seg.next_offset
        result = scan_segment(seg, chunk_bytes=self.config.scan_chunk_bytes_max)
        if result.error is not None or result.next_offset != expected_end:
            raise CorruptBatchError(
                f"segment {seg.base_offset} of {self.dir_path} is damaged at position {result.valid_bytes}: {result.error}")
        if seg is not self._segments[-1]:
            seg.write_indexes()

    # ---- truncation and retention (log/retention.py) ----------------------

    def truncate_to(self, offset: int, *, head: bytes | None = None) -> int:
        """Remove every batch at or after the one holding `offset` (followers
        whose log diverged; Raft conflicts); returns the new log end offset,
        which is `offset` unless `offset` fell inside a batch. With `head`
        (whole batches covering exactly [start of the batch holding `offset`,
        `offset`), built from that batch as read from disk) the batch is
        split instead and the result is `offset`. Below the log start the log
        restarts empty at `offset`. Crash-atomic and durable when it returns
        (log/retention.py); leader epochs starting at or after the new end
        are dropped. The next append lands exactly at the new end."""
        with self._flush_lock, self._lock:
            self._check_open()
            try:
                return truncate_log(self, offset, head)
            finally:
                self._park_all()


    def delete_before(self, offset: int) -> int:
        """Advance the log start offset to `offset` (retention, Raft snapshot
        compaction, DeleteRecords) and delete segments wholly before it; the
        new start is persisted first. Beyond the log end the log restarts
        empty at `offset` (a follower catching up from a snapshot). Returns
        the number of segments deleted."""
        with self._flush_lock, self._lock:
            self._check_open()
            try:
                return delete_log_before(self, offset)
            finally:
                self._park_all()

    def enforce_retention(self) -> int:
        """Delete the oldest sealed segments that break retention by time
        (newest batch older than retention_ms) or by bytes (the log stays at
        least retention_bytes big, Kafka's rule); never the active segment.
        Returns the number of segments deleted."""
        with self._flush_lock, self._lock:
            self._check_open()
            return enforce_log_retention(self)

    # ---- compaction (log/compaction.py) -------------------------------------

    def sealed_segments(self) -> list[tuple[int, int, int]]:
        """(base_offset, next_offset, size) of every segment but the active one."""
        with self._lock:
            self._check_open()
            return [(s.base_offset, s.next_offset, s.size) for s in self._segments[:-1]]

    def read_segment(self, base_offset: int) -> bytes:
        """All bytes of the sealed segment at `base_offset` (the cleaner's input)."""
        with self._lock:
            self._check_open()
            seg = self._segments[self._bases.index(base_offset)]  # ValueError: no such segment
            if seg is self._segments[-1]:
                raise ValueError(f"segment {base_offset} is the active one: never cleaned")
            return seg.read(0, seg.size)

    def replace_segment(self, base_offset: int, data: bytes, *, expected_size: int) -> bool:
        """Swap the sealed segment at `base_offset` for `data` (its compacted
        bytes: the same offset range, log/compaction.py), crash-atomically:
        write `<base>.log.cleaned` and fsync it, durably remove the old
        indexes (rebuilt by a scan if a crash comes next), rename the new file
        over the old one and fsync the directory; a crash leaves the old or
        the new segment, whole. Returns False, changing nothing, if the
        segment is gone, active or changed since it was read
        (`expected_size`)."""
        with self._flush_lock, self._lock:
            self._check_open()
            return replace_log_segment(self, base_offset, data, expected_size)

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError(f"log {self.dir_path} is closed")

    def __enter__(self) -> "PartitionLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = [
    "AppendInfo",
    "BatchTooLargeError",
    "HEADER_SIZE",
    "InvalidOffsetError",
    "LOG_START_NAME",
    "LogClosedError",
    "PartitionLog",
    "RECOVERY_POINT_NAME",
]
