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

from rafka.log.atomic import fsync_dir
from rafka.log.batch import HEADER_SIZE, parse_header
from rafka.log.config import LogConfig
from rafka.log.index import IndexCorruptError
from rafka.log.recovery import write_offset_checkpoint
from rafka.log.segment import NO_TIMESTAMP, Segment

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


def truncate_log(plog, offset: int) -> int:
    """PartitionLog.truncate_to under its locks: see its docstring."""
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
    i = plog._segments.index(seg)
    for later in plog._segments[i + 1 :]:
        later.delete()
    del plog._segments[i + 1 :]
    del plog._bases[i + 1 :]
    # The file is opened O_APPEND, so the next write lands at the new end.
    seg.truncate_to(position, new_end)
    seg.remove_index_files()
    if seg.rolling_base_ms is None:
        seg.rolling_base_ms = plog._now_ms()
    fsync_dir(plog.dir_path)
    old_end = plog._log_end_offset
    _after_truncation(plog, new_end)
    plog._log.warning("log_truncated", offset=new_end, requested_offset=offset, old_end_offset=old_end,
                      offsets_cut=old_end - new_end)
    return new_end


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
    new = Segment.create(plog.dir_path, offset, index_interval_bytes=plog.config.index_interval_bytes)
    new.rolling_base_ms = plog._now_ms()
    plog._segments = [new]
    plog._bases = [offset]
    fsync_dir(plog.dir_path)
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
    write_offset_checkpoint(os.path.join(plog.dir_path, LOG_START_NAME), offset)
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
