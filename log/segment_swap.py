"""Swapping a sealed segment for its compacted bytes: the cleaner's commit.

Why a module of its own: compaction (log/compaction.py) works on a copy of a
sealed segment outside the log's locks; putting the result in place is rare,
writes and renames files and fsyncs the directory, and carries its own crash
ordering, none of which the append/read path needs. PartitionLog keeps the
public methods (`sealed_segments`, `read_segment`, `replace_segment`), takes
its locks and delegates here.

Contract: `replace_log_segment` is called with `plog._flush_lock` and
`plog._lock` held and the log open; it uses PartitionLog's internals as a
friend module would (as log/retention.py does).

Crash ordering: the new bytes are written to `<base>.log.cleaned` and
fsynced; the old indexes are removed durably (a scan rebuilds them if a
crash comes next); the new file is renamed over the old one and the
directory fsynced. A crash leaves the old or the new segment, whole.
"""

from __future__ import annotations

import os

from rafka.log.atomic import write_all
from rafka.log.batch import validate_batch
from rafka.log.errors import InvalidOffsetError
from rafka.log.recovery import CLEANED_SUFFIX, scan_segment
from rafka.log.segment import INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, Segment


def replace_log_segment(plog, base_offset: int, data: bytes, expected_size: int) -> bool:
    """Swap the sealed segment of `plog` at `base_offset` for `data` (the
    same offset range); False, changing nothing, if the segment is gone,
    active or changed since it was read (`expected_size`)."""
    if base_offset not in plog._bases:
        return False
    i = plog._bases.index(base_offset)
    seg = plog._segments[i]
    if i == len(plog._segments) - 1 or seg.size != expected_size:
        return False
    _check_same_range(data, base_offset, seg.next_offset)
    fs = plog.fs
    tmp = seg.path(LOG_SUFFIX + CLEANED_SUFFIX)
    fd = fs.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fs, fd, data)
        fs.fsync(fd)
    finally:
        fs.close(fd)
    for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
        if fs.exists(seg.path(suffix)):
            fs.remove(seg.path(suffix))
    fs.fsync_dir(plog.dir_path)
    fs.replace(tmp, seg.path(LOG_SUFFIX))
    fs.fsync_dir(plog.dir_path)
    seg.close()
    new = Segment.open_existing(plog.dir_path, base_offset, index_interval_bytes=plog.config.index_interval_bytes,
                                fs=fs, handles=plog._handles)
    result = scan_segment(new, chunk_bytes=plog.config.scan_chunk_bytes_max)
    assert result.error is None and result.next_offset == seg.next_offset, result
    new.write_indexes()
    new.park()
    plog._segments[i] = new
    plog._log.info("segment_replaced", base_offset=base_offset, bytes_before=expected_size,
                   bytes_after=len(data))
    return True


def _check_same_range(data: bytes, base_offset: int, next_offset: int) -> None:
    """`data` is whole valid batches covering exactly [base_offset, next_offset)."""
    expected, pos = base_offset, 0
    while pos < len(data):
        header = validate_batch(data, pos)
        if header.base_offset != expected:
            raise InvalidOffsetError(f"replacement batch at {pos} starts at {header.base_offset}, expected {expected}")
        expected, pos = header.next_offset, pos + header.size
    if expected != next_offset:
        raise InvalidOffsetError(f"replacement segment ends at {expected}, expected {next_offset}")
