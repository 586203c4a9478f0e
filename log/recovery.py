"""Recovery on open: find the intact prefix of a log directory.

Why: a crash can leave a torn batch at the tail (the OS wrote part of it), a
disk can flip bits, and index files are only a cache. On open we verify every
batch (length, magic, CRC, contiguous offsets) of the segments at or after the
recovery point, cut the log at the first damage, delete every later segment,
rebuild indexes that are missing or damaged, and log ONE warning naming the
file, the offset and the bytes cut.

Invariant after load_segments: the returned segments hold whole valid batches
with contiguous offsets, each with in-memory indexes describing it, and
nothing after the first damage remains on disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from rafka.log.atomic import TMP_SUFFIX, atomic_write

CLEANED_SUFFIX = ".cleaned"  # a compacted segment being written (PartitionLog.replace_segment)
from rafka.log.batch import HEADER_SIZE, BatchHeader, parse_header, validate_batch
from rafka.log.epoch_cache import LeaderEpochCache
from rafka.log.errors import CorruptBatchError, LogDirError
from rafka.log.fs import OS_FS, FileSystem, makedirs_durable
from rafka.log.index import IndexCorruptError
from rafka.log.segment import INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, Segment
from rafka.log.segment_names import parse_segment_name


@dataclass
class ScanResult:
    """How much of a segment is intact: `valid_bytes` hold batches up to
    `next_offset`; `error` says why the rest (if any) is damaged."""

    valid_bytes: int
    next_offset: int
    error: str | None = None


def scan_segment(
    segment: Segment,
    *,
    chunk_bytes: int,
    on_batch: Callable[[BatchHeader], None] | None = None,
) -> ScanResult:
    """Verify every batch of `segment` and rebuild its in-memory indexes.

    Reads in chunks of about `chunk_bytes` (more only for a batch bigger than
    that). Stops at the first torn or corrupt batch or offset gap; the
    segment's tracking state then describes exactly the valid prefix.
    """
    segment.reset_indexes()
    size = segment.size
    expected = segment.base_offset
    position = 0
    buf = b""
    buf_pos = 0
    while position < size:
        remaining = size - position
        if remaining < HEADER_SIZE:
            return ScanResult(position, expected, f"torn batch header ({remaining} bytes)")
        if position - buf_pos + HEADER_SIZE > len(buf):
            buf, buf_pos = segment.read(position, min(chunk_bytes, remaining)), position
        rel = position - buf_pos
        try:
            header = parse_header(buf, rel)
        except CorruptBatchError as exc:
            return ScanResult(position, expected, str(exc))
        batch_size = header.size
        if batch_size > remaining:
            return ScanResult(position, expected, f"torn batch ({remaining} of {batch_size} bytes)")
        if rel + batch_size > len(buf):
            buf, buf_pos = segment.read(position, min(max(chunk_bytes, batch_size), remaining)), position
            rel = 0
        try:
            validate_batch(buf, rel)
        except CorruptBatchError as exc:
            return ScanResult(position, expected, str(exc))
        if header.base_offset != expected:
            return ScanResult(position, expected, f"batch base offset {header.base_offset}, expected {expected}")
        if segment.rolling_base_ms is None:
            segment.rolling_base_ms = header.max_timestamp
        segment.track_batch(header.base_offset, header.next_offset, position, batch_size, header.max_timestamp)
        if on_batch is not None:
            on_batch(header)
        expected = header.next_offset
        position += batch_size
    return ScanResult(position, expected)


def list_segment_bases(dir_path: str, fs: FileSystem = OS_FS) -> list[int]:
    """Base offsets of the `.log` files in `dir_path`, ascending; removes
    index files whose segment is gone and leftover segment temp files (a
    crash during a truncation that rewrote a batch head, log/retention.py,
    or during a compaction swap, `.log.cleaned`: log/partition_log.py)."""
    names = fs.listdir(dir_path)
    bases = sorted(b for b in (parse_segment_name(n) for n in names) if b is not None)
    present = {f"{b:020d}" for b in bases}
    for name in names:
        if name.endswith(LOG_SUFFIX + TMP_SUFFIX) or name.endswith(LOG_SUFFIX + CLEANED_SUFFIX):
            fs.remove(os.path.join(dir_path, name))
            continue
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX, INDEX_SUFFIX + ".tmp", TIME_INDEX_SUFFIX + ".tmp"):
            if name.endswith(suffix) and name[: -len(suffix)].isdigit():
                if name.endswith(".tmp") or name[: -len(suffix)] not in present:
                    fs.remove(os.path.join(dir_path, name))
                break
    return bases


def load_segments(
    dir_path: str,
    *,
    recovery_point: int,
    index_interval_bytes: int,
    chunk_bytes: int,
    on_batch: Callable[[BatchHeader], None],
    log,
    fs: FileSystem = OS_FS,
    handles=None,
) -> list[Segment]:
    """Open every segment of `dir_path` and recover it (module docstring).

    Segments wholly before the one holding `recovery_point` are trusted (their
    indexes are loaded, or rebuilt by a verifying scan if missing or
    damaged); the rest are scanned. `on_batch` sees every scanned batch in
    offset order (the leader-epoch cache learns epochs from it). With
    `handles` (log/segment_handles.py) segments open parked, so a log of
    many segments holds no more files than the cache allows.
    """
    bases = list_segment_bases(dir_path, fs)
    segments = [Segment.open_existing(dir_path, b, index_interval_bytes=index_interval_bytes, fs=fs, handles=handles)
                for b in bases]
    first_scanned = 0
    for i, seg in enumerate(segments):
        if seg.base_offset <= recovery_point:
            first_scanned = i
    damage: tuple[int, ScanResult] | None = None
    for i, seg in enumerate(segments):
        trusted_next = segments[i + 1].base_offset if i + 1 < len(segments) else None
        if i < first_scanned and trusted_next is not None:
            try:
                seg.load_indexes(trusted_next)
                continue
            except (OSError, IndexCorruptError) as exc:
                log.warning("segment_index_rebuilt", file=seg.path(INDEX_SUFFIX), reason=str(exc))
        result = scan_segment(seg, chunk_bytes=chunk_bytes, on_batch=on_batch)
        if result.error is None and trusted_next is not None and result.next_offset != trusted_next:
            # The next segment does not continue this one: it is not ours to serve.
            damage = (i + 1, ScanResult(0, result.next_offset, f"segment {trusted_next} does not follow offset {result.next_offset}"))
            break
        if result.error is not None:
            damage = (i, result)
            break
    if damage is not None:
        kept = _cut(segments, damage[0], damage[1], log)
        del segments[kept:]
    return segments


def _cut(segments: list[Segment], index: int, result: ScanResult, log) -> int:
    """Truncate segment `index` to its valid prefix, delete all later
    segments (and this one too if nothing valid is left and it is not the
    first), and log the one recovery warning."""
    seg = segments[index]
    bytes_cut = seg.size - result.valid_bytes
    file_name = seg.path(LOG_SUFFIX)
    later = segments[index + 1 :]
    keep_this = result.valid_bytes > 0 or index == 0
    if keep_this:
        seg.truncate_to(result.valid_bytes, result.next_offset)
    else:
        later = segments[index:]
    for other in later:
        if other is not seg:
            bytes_cut += other.size
        other.delete()
    log.warning(
        "log_truncated_on_recovery",
        file=file_name,
        offset=result.next_offset,
        position=result.valid_bytes,
        bytes_cut=bytes_cut,
        segments_deleted=len(later),
        reason=result.error,
    )
    return index + 1 if keep_this else index


def read_offset_checkpoint(path: str, log, fs: FileSystem = OS_FS) -> int | None:
    """The offset in a one-value checkpoint file ("0\\n<offset>\\n"), or None
    when it is missing or damaged (damage is logged; callers fall back to a
    safe default such as a full recovery scan)."""
    try:
        data = fs.read_file(path, 64)
    except FileNotFoundError:
        return None
    try:
        version, value = data.decode("ascii").split()
        offset = int(value)
        if int(version) != 0 or offset < 0:
            raise ValueError(data)
        return offset
    except (ValueError, UnicodeDecodeError):
        log.warning("offset_checkpoint_damaged", file=path)
        return None


def write_offset_checkpoint(path: str, offset: int, fs: FileSystem = OS_FS) -> None:
    atomic_write(path, f"0\n{offset}\n".encode(), fs=fs)


@dataclass
class RecoveredLog:
    """What PartitionLog.open needs: recovered segments (the last is active),
    the log start offset, the persisted recovery point, the epoch cache."""

    segments: list[Segment]
    log_start_offset: int
    recovery_point: int
    epochs: LeaderEpochCache


def recover_log(
    dir_path: str,
    config,
    *,
    now_ms: Callable[[], int],
    log_end_offset: Callable[[], int],
    recovery_point_name: str,
    log_start_name: str,
    log,
    fs: FileSystem = OS_FS,
    handles=None,
) -> RecoveredLog:
    """Recover a log directory: load and verify segments (load_segments),
    settle the log start offset and the leader-epoch cache, make everything
    kept durable, and persist the recovery point at the log end.

    A missing or damaged recovery point or epoch checkpoint means a full
    verifying scan (epochs are then relearned from the batches).

    Order (each step durable before the next is written): a new directory
    is fsynced into its parent; the kept data (every scanned segment) and
    the directory are fsynced; then the epoch checkpoint; then the recovery
    point, which promises that everything below it is durable and verified.
    Epochs starting at or after the log end are dropped, the same rule as a
    truncation (log/retention.py): they describe no batch on disk.
    """
    try:
        makedirs_durable(fs, dir_path)
    except OSError as exc:
        raise LogDirError(f"cannot create log directory {dir_path}: {exc}") from exc
    rp_path = os.path.join(dir_path, recovery_point_name)
    start_path = os.path.join(dir_path, log_start_name)
    recovery_point = read_offset_checkpoint(rp_path, log, fs)
    start_checkpoint = read_offset_checkpoint(start_path, log, fs)
    epochs = LeaderEpochCache(dir_path, log_end_offset, log_fields={"log_dir": dir_path}, fs=fs)
    if not epochs.loaded_from_file:
        recovery_point = None
    seen: list[tuple[int, int]] = []

    def on_batch(header: BatchHeader) -> None:
        epoch = header.partition_leader_epoch
        if epoch >= 0 and epoch > (seen[-1][0] if seen else epochs.latest_epoch):
            seen.append((epoch, header.base_offset))

    segments = load_segments(
        dir_path,
        recovery_point=recovery_point or 0,
        index_interval_bytes=config.index_interval_bytes,
        chunk_bytes=config.scan_chunk_bytes_max,
        on_batch=on_batch,
        log=log,
        fs=fs,
        handles=handles,
    )
    if not segments:
        segments = [Segment.create(dir_path, start_checkpoint or 0, index_interval_bytes=config.index_interval_bytes,
                                   fs=fs, handles=handles)]
    log_end = segments[-1].next_offset
    log_start = min(max(start_checkpoint or 0, segments[0].base_offset), log_end)
    while len(segments) > 1 and segments[1].base_offset <= log_start:
        segments.pop(0).delete()
    for epoch, offset in seen:
        epochs.assign(epoch, offset, persist=False)
    epochs.truncate_from_end(log_end, persist=False)
    epochs.truncate_from_start(log_start, persist=False)
    active = segments[-1]
    if active.rolling_base_ms is None:
        active.rolling_base_ms = now_ms()
    for seg in segments[:-1]:
        if not seg.indexes_written:
            seg.write_indexes()
    if recovery_point != log_end:
        # The last run may have crashed: make what we keep durable before
        # promising (via the recovery point) that it need not be verified.
        # Every scanned segment, from the one holding the recovery point on.
        scanned_from = max((s.base_offset for s in segments if s.base_offset <= (recovery_point or 0)), default=0)
        for seg in segments:
            if seg.base_offset >= scanned_from or seg is active:
                seg.drain()
                fs.fsync(seg.fd)
                seg.synced_size = seg.size
        fs.fsync_dir(dir_path)
    if epochs.dirty or not epochs.loaded_from_file:
        epochs.persist()
    if recovery_point != log_end:
        write_offset_checkpoint(rp_path, log_end, fs)
    if start_checkpoint != log_start:
        write_offset_checkpoint(start_path, log_start, fs)
    return RecoveredLog(segments, log_start, log_end, epochs)
