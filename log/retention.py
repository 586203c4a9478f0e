"""Moving a PartitionLog's boundaries: truncation at the end, deletion and
retention at the start.

Why a module of its own: appends and reads are the hot path of PartitionLog;
cutting the log is rare, touches several segments and checkpoints at once,
and carries its own ordering rules. PartitionLog keeps the public methods
(`truncate_to`, `delete_before`, `enforce_retention`), takes its locks and
delegates here.

Contract: every function taking `plog` is called with `plog._flush_lock` and
`plog._lock` held and the log open; they use PartitionLog's internals as a
friend module would. `retention_cut` is pure.

Ordering rules (the invariants of log/partition_log.py hold again on return):
- a new log start offset is persisted before any segment is deleted, so a
  crash never resurrects data below it;
- a truncation is fsynced (file and directory) before the recovery point is
  lowered to the new end, and bumps `_truncate_gen` so a concurrent flush
  does not publish a flushed offset for bytes that are gone;
- leader epochs follow: those starting at or after a new end are dropped,
  those ending before a new start are folded into it.
"""

from __future__ import annotations

import os

from rafka.log.append_validation import validate_append
from rafka.log.atomic import TMP_SUFFIX, write_all
from rafka.log.batch import HEADER_SIZE, parse_header
from rafka.log.config import LogConfig
from rafka.log.errors import CorruptBatchError, InvalidOffsetError
from rafka.log.index import IndexCorruptError
from rafka.log.recovery import scan_segment, write_offset_checkpoint
from rafka.log.segment import INDEX_SUFFIX, LOG_SUFFIX, NO_TIMESTAMP, TIME_INDEX_SUFFIX, Segment, segment_name

LOG_START_NAME = "log-start-offset-checkpoint"


# ---- pure policy -------------------------------------------------------------


def segment_time_ms(seg: Segment, now_ms: int) -> int:
    """The time retention judges a segment by: its newest batch timestamp,
    else when it started being written, else now (never expires early)."""
    if seg.max_timestamp > NO_TIMESTAMP:
        return seg.max_timestamp
    return seg.rolling_base_ms if seg.rolling_base_ms is not None else now_ms


def retention_cut(segments: list[Segment], log_start_offset: int, now_ms: int, config: LogConfig) -> int:
    """How many of the oldest segments to delete: those wholly below the log
    start, then those older than retention_ms, then as many as keep the log
    at least retention_bytes big (Kafka's rule). Never the last (active)
    segment, so the result is < len(segments)."""
    sealed = len(segments) - 1
    count = 0
    while count < sealed and segments[count + 1].base_offset <= log_start_offset:
        count += 1
    if config.retention_ms >= 0:
        cutoff = now_ms - config.retention_ms
        while count < sealed and segment_time_ms(segments[count], now_ms) < cutoff:
            count += 1
    if config.retention_bytes >= 0:
        excess = sum(s.size for s in segments[count:]) - config.retention_bytes
        while count < sealed and excess - segments[count].size >= 0:
            excess -= segments[count].size
            count += 1
    return count


# ---- the end of the log --------------------------------------------------------


def truncate_log(plog, offset: int, head=None) -> int:
    """PartitionLog.truncate_to under its locks: see its docstring.

    Crash atomicity: at every instant the directory holds either the old log
    cut somewhere at or after `offset` (only entries the caller asked to drop
    are ever missing) or the new one. Kept data comes from the disk: a cut
    always falls on a batch boundary, and a kept head of the batch holding
    `offset` (`head`, built by the caller from that batch as read from disk)
    goes to a new file first, see _truncate_with_head.
    """
    if offset >= plog._log_end_offset:
        return plog._log_end_offset
    if offset <= plog._log_start_offset:
        reset_log_at(plog, offset)
        return offset
    seg = plog._segment_for(offset)
    try:
        position = seg.batch_start_for(offset)
    except IndexCorruptError as exc:
        plog._rebuild_index(seg, str(exc))
        position = seg.batch_start_for(offset)
    new_end = parse_header(seg.read(position, HEADER_SIZE)).base_offset if position < seg.size else offset
    if head is not None and new_end < offset:
        return _truncate_with_head(plog, seg, position, new_end, offset, head)
    i = plog._segments.index(seg)
    _sync_segments(plog._segments[:i])
    _scan_from(plog, seg)
    for later in plog._segments[i + 1 :]:
        later.delete()
    del plog._segments[i + 1 :]
    del plog._bases[i + 1 :]
    # The file is opened O_APPEND, so the next write lands at the new end.
    seg.truncate_to(position, new_end)
    seg.remove_index_files()
    if seg.rolling_base_ms is None:
        seg.rolling_base_ms = plog._now_ms()
    plog.fs.fsync_dir(plog.dir_path)
    old_end = plog._log_end_offset
    _after_truncation(plog, new_end)
    plog._log.warning("log_truncated", offset=new_end, requested_offset=offset, old_end_offset=old_end,
                      offsets_cut=old_end - new_end)
    return new_end


def _scan_from(plog, seg: Segment) -> None:
    """Lower the persisted recovery point to `seg`'s base before cutting it:
    a reopen then verifies `seg` and everything after it instead of trusting
    index files (and a `next segment` base) that describe the old content.
    Without it a crash between the cut and the directory fsync could bring
    back a later segment and make the cut segment claim offsets it lost."""
    if plog._recovery_point > seg.base_offset:
        plog._write_recovery_point(seg.base_offset)


def _sync_segments(segments) -> None:
    """fsync kept segments with unsynced bytes: what survives a truncation
    is durable before the epoch checkpoint is rewritten to describe it."""
    for seg in segments:
        if seg.synced_size < seg.size:
            seg.drain()
            seg.fs.fsync(seg.fd)
            seg.synced_size = seg.size


def _check_head(head, batch_base: int, offset: int, batch_bytes_max: int) -> None:
    metas = validate_append(memoryview(head), len(head), batch_bytes_max)
    expected = batch_base
    for meta in metas:
        if meta.base_offset != expected:
            raise InvalidOffsetError(f"head batch base offset {meta.base_offset}, expected {expected}")
        expected += meta.last_offset_delta + 1
    if expected != offset:
        raise InvalidOffsetError(f"head ends before {expected}, expected {offset}")


def _truncate_with_head(plog, seg: Segment, position: int, batch_base: int, offset: int, head) -> int:
    """Cut inside the batch [batch_base, ...] holding `offset`, keeping
    [batch_base, offset) as `head` (whole batches, checked here).

    Why this order (write the new tail to a new file, fsync, rename, fsync
    the directory, and only then cut the old file): the cut reaches the disk
    at once, so cutting first and rewriting the head afterwards leaves a
    window in which a crash loses kept, possibly acknowledged, entries (issue
    9). Here:
    1. the recovery point drops to the segment's base, so a reopen scans
       (verifies) this segment and everything after it;
    2. later segments are deleted (they hold only offsets >= offset);
    3. the head is written to `<batch_base>.log.tmp`, fsynced, renamed to
       `<batch_base>.log` and the directory fsynced. If the segment's base is
       batch_base this rename IS the commit point: the old file is replaced
       whole. Otherwise both files now exist; a reopen finds the old segment
       still running past batch_base, sees the new one does not follow it and
       deletes it (log/recovery.py): the old log, cut at or after `offset`;
    4. otherwise the old segment is cut at the batch boundary and fsynced:
       the commit point. The new file is the active segment.
    """
    _check_head(head, batch_base, offset, plog._batch_bytes_max)
    fs = plog.fs
    i = plog._segments.index(seg)
    _sync_segments(plog._segments[:i])
    _scan_from(plog, seg)
    for later in plog._segments[i + 1 :]:
        later.delete()
    del plog._segments[i + 1 :]
    del plog._bases[i + 1 :]
    name = os.path.join(plog.dir_path, segment_name(batch_base))
    tmp = name + LOG_SUFFIX + TMP_SUFFIX
    fd = fs.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fs, fd, head)
        fs.fsync(fd)
    finally:
        fs.close(fd)
    for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
        try:
            fs.remove(name + suffix)
        except FileNotFoundError:
            pass
    replaces = seg.base_offset == batch_base
    if replaces:
        seg.delete_pending_and_close()
        del plog._segments[i:]
        del plog._bases[i:]
    fs.replace(tmp, name + LOG_SUFFIX)
    fs.fsync_dir(plog.dir_path)
    if not replaces:
        seg.truncate_to(position, batch_base)  # fsynced: the commit point
        seg.write_indexes()
    new = Segment.open_existing(plog.dir_path, batch_base, index_interval_bytes=plog.config.index_interval_bytes,
                                fs=fs, handles=plog._handles)
    result = scan_segment(new, chunk_bytes=plog.config.scan_chunk_bytes_max)
    if result.error is not None or result.next_offset != offset:
        raise CorruptBatchError(f"rewritten head of {plog.dir_path} at {batch_base} does not read back: {result.error}")
    new.rolling_base_ms = plog._now_ms()
    plog._segments.append(new)
    plog._bases.append(batch_base)
    old_end = plog._log_end_offset
    _after_truncation(plog, offset)
    plog._log.warning("log_truncated", offset=offset, requested_offset=offset, old_end_offset=old_end,
                      offsets_cut=old_end - offset, head_rewritten_from=batch_base)
    return offset


def _after_truncation(plog, new_end: int) -> None:
    plog._log_end_offset = new_end
    plog._flushed_offset = min(plog._flushed_offset, new_end)
    plog._truncate_gen += 1
    if plog._recovery_point > new_end:
        plog._write_recovery_point(new_end)
    plog.leader_epochs.truncate_from_end(new_end)


def reset_log_at(plog, offset: int) -> None:
    """Drop every segment and restart empty at `offset` (log start = end).

    Logged as a warning only when records were actually discarded; moving
    the start of an empty log (e.g. a fresh Raft log starting at index 1)
    discards nothing and is logged at debug level."""
    old_start, old_end = plog._log_start_offset, plog._log_end_offset
    set_log_start(plog, offset)
    for seg in plog._segments:
        seg.delete()
    new = Segment.create(plog.dir_path, offset, index_interval_bytes=plog.config.index_interval_bytes, fs=plog.fs,
                         handles=plog._handles)
    new.rolling_base_ms = plog._now_ms()
    plog._segments = [new]
    plog._bases = [offset]
    plog.fs.fsync_dir(plog.dir_path)
    _after_truncation(plog, offset)
    if plog._recovery_point != offset:
        plog._write_recovery_point(offset)
    plog.leader_epochs.truncate_from_start(offset)
    if old_end > old_start:
        plog._log.warning("log_reset", offset=offset, discarded_offsets=old_end - old_start,
                          discarded_from_offset=old_start)
    else:
        plog._log.debug("log_start_moved", offset=offset, old_offset=old_start)


# ---- the start of the log ------------------------------------------------------


def delete_log_before(plog, offset: int) -> int:
    """PartitionLog.delete_before under its locks: see its docstring."""
    if offset <= plog._log_start_offset:
        return 0
    if offset > plog._log_end_offset:
        count = len(plog._segments)
        reset_log_at(plog, offset)
        return count
    set_log_start(plog, offset)
    count = 0
    while count < len(plog._segments) - 1 and plog._bases[count + 1] <= offset:
        count += 1
    delete_oldest(plog, count)
    plog.leader_epochs.truncate_from_start(offset)
    return count


def enforce_log_retention(plog) -> int:
    """PartitionLog.enforce_retention under its locks: see its docstring."""
    count = retention_cut(plog._segments, plog._log_start_offset, plog._now_ms(), plog.config)
    if count:
        new_start = plog._bases[count]
        if new_start > plog._log_start_offset:
            set_log_start(plog, new_start)
            plog.leader_epochs.truncate_from_start(new_start)
        delete_oldest(plog, count)
    return count


def set_log_start(plog, offset: int) -> None:
    """Persist, then publish, a new log start offset."""
    write_offset_checkpoint(os.path.join(plog.dir_path, LOG_START_NAME), offset, plog.fs)
    plog._log_start_offset = offset


def delete_oldest(plog, count: int) -> None:
    """Delete the `count` oldest segments (the caller persisted the start)."""
    if not count:
        return
    for seg in plog._segments[:count]:
        seg.delete()
        plog._log.info("segment_deleted", base_offset=seg.base_offset, bytes=seg.size)
    del plog._segments[:count]
    del plog._bases[:count]
    plog._dir_dirty = True
