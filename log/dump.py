"""Decode segment files for humans and scripts (`rafka dump-log`).

Why here: a segment file is record batches concatenated, and both data
partitions and the Raft metadata log are segment directories, so one reader
serves both. Functions take a path and yield one plain dict per batch (the
JSON shape of DESIGN.md's dump-log), so the CLI only formats.

Reading is sequential and bounded: one batch in memory at a time, each at
most `batch_bytes_max`. What the reader reports:

- a batch whose header parses: one dict, with `crc_valid` False when its
  CRC-32C does not match (like Kafka's DumpLogSegments, the walk goes on:
  the length field is outside the CRC and still locates the next batch);
- a tail that cannot be read as a batch (torn write, bad magic, impossible
  or oversized length): a final {"error", "position"} dict, then the walk
  of that segment stops;
- a path that is not a segment (name not 20 digits + ".log", or a non-empty
  file whose first bytes are not a batch header): NotASegmentError.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Iterator

from rafka.log.batch import HEADER_SIZE, BatchHeader, compute_crc, parse_header
from rafka.log.compression import codec_name
from rafka.log.errors import CorruptBatchError, LogDirError, NotASegmentError, UnsupportedCodecError
from rafka.log.records import decode_records

SEGMENT_NAME_RE = re.compile(r"^(\d{20})\.log$")

# Largest batch dump-log will read into memory; bigger means a corrupt length.
DUMP_BATCH_BYTES_MAX = 256 * 1024 * 1024


def segment_files(path: str | os.PathLike) -> list[Path]:
    """The segment files at `path`: the file itself, or every `*.log`
    segment of a directory in base-offset order. Other files of a partition
    directory (indexes, checkpoints, hard state) are skipped."""
    path = Path(path)
    if path.is_dir():
        try:
            names = [p for p in path.iterdir() if SEGMENT_NAME_RE.match(p.name) and p.is_file()]
        except OSError as exc:
            raise LogDirError(f"cannot list {path}: {exc.strerror}") from None
        if not names:
            raise NotASegmentError(f"{path} holds no segment files (NNNNNNNNNNNNNNNNNNNN.log)")
        return sorted(names, key=lambda p: int(p.name[:20]))
    if not path.exists():
        raise NotASegmentError(f"{path} does not exist")
    if not SEGMENT_NAME_RE.match(path.name):
        raise NotASegmentError(
            f"{path.name} is not a segment file name (20-digit base offset + .log)"
        )
    return [path]


def render_bytes(data: bytes | None):
    """Keys and values as text when valid UTF-8, else {"base64": ...}."""
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def _batch_dict(segment: str, position: int, header: BatchHeader, crc_valid: bool) -> dict:
    return {
        "segment": segment,
        "position": position,
        "base_offset": header.base_offset,
        "last_offset": header.last_offset,
        "count": header.record_count,
        "partition_leader_epoch": header.partition_leader_epoch,
        "crc_valid": crc_valid,
        "size": header.size,
        "compression": codec_name(header.compression),
        "max_timestamp": header.max_timestamp,
        "is_control": header.is_control,
        "is_transactional": header.is_transactional,
        "producer_id": header.producer_id,
    }


def _records_list(buf: bytes, header: BatchHeader) -> list[dict]:
    return [
        {
            "offset": rec.offset,
            "timestamp": rec.timestamp_ms,
            "key": render_bytes(rec.key),
            "value": render_bytes(rec.value),
            "headers": [{"key": k, "value": render_bytes(v)} for k, v in rec.headers],
        }
        for rec in decode_records(buf, 0, header)
    ]


def dump_segment(
    path: str | os.PathLike,
    *,
    records: bool = False,
    batch_bytes_max: int = DUMP_BATCH_BYTES_MAX,
    strict_start: bool = True,
) -> Iterator[dict]:
    """Yield one dict per batch of one segment file, then an error dict if
    the tail is unreadable. With `strict_start`, a non-empty file whose first
    bytes are not a batch header raises NotASegmentError instead."""
    path = Path(path)
    segment = path.name
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise NotASegmentError(f"cannot open {path}: {exc.strerror}") from None
    with f:
        file_size = os.fstat(f.fileno()).st_size
        position = 0
        while position < file_size:
            head = f.read(HEADER_SIZE)
            try:
                header = parse_header(head)
            except CorruptBatchError as exc:
                if position == 0 and strict_start:
                    raise NotASegmentError(
                        f"{path.name} does not start with a record batch: {exc}"
                    ) from None
                reason = str(exc).replace(" at position 0", "")
                yield {"segment": segment, "error": reason, "position": position}
                return
            if header.size > batch_bytes_max:
                yield {"segment": segment, "position": position,
                       "error": f"batch of {header.size} bytes exceeds {batch_bytes_max}"}
                return
            if position + header.size > file_size:
                present = file_size - position
                yield {"segment": segment, "position": position,
                       "error": f"truncated batch: {present} of {header.size} bytes present"}
                return
            buf = head + f.read(header.size - HEADER_SIZE)
            crc_valid = compute_crc(buf, 0, header.size) == header.crc
            out = _batch_dict(segment, position, header, crc_valid)
            if records:
                try:
                    out["records"] = _records_list(buf, header)
                except (CorruptBatchError, UnsupportedCodecError) as exc:
                    out["records"] = []
                    out["records_error"] = str(exc)
            yield out
            position += header.size


def dump_log(path: str | os.PathLike, *, records: bool = False,
             batch_bytes_max: int = DUMP_BATCH_BYTES_MAX) -> Iterator[dict]:
    """Every batch of a segment file, or of every segment of a directory in
    base-offset order. For a single file, NotASegmentError is raised before
    anything is yielded if it is not a segment; inside a directory a bad
    segment is reported as an error dict and the walk goes on."""
    paths = segment_files(path)
    single = not Path(path).is_dir()
    for segment in paths:
        yield from dump_segment(segment, records=records, batch_bytes_max=batch_bytes_max,
                                strict_start=single)
