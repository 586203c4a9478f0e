"""Read a partition replica's segment files below the high watermark, for
the replica-divergence checker.

Why from the files: the claim under test is that every ISR replica's log is
byte-identical below the HW on disk, not what a fetch returns. Segments are
found with rafka.log's reader (`segment_files`) and walked batch by batch
with `parse_header`; a batch counts when it ends below the HW. A torn or
unreadable tail stops the walk (it can only lie above the HW).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rafka.log.batch import HEADER_SIZE, parse_header
from rafka.log.dump import segment_files
from rafka.log.errors import CorruptBatchError, LogError


def bytes_below(partition_dir: Path, high_watermark: int) -> tuple[bytes, int]:
    """(the batches below `high_watermark` concatenated, their record count)."""
    out = bytearray()
    records = 0
    try:
        segments = segment_files(partition_dir)
    except LogError:
        return b"", 0
    for seg in segments:
        data = seg.read_bytes()
        pos = 0
        while len(data) - pos >= HEADER_SIZE:
            try:
                h = parse_header(data, pos)
            except CorruptBatchError:
                break
            if pos + h.size > len(data) or h.last_offset >= high_watermark:
                break
            out += data[pos:pos + h.size]
            records += h.record_count
            pos += h.size
    return bytes(out), records


def replica_summary(partition_dir: Path, high_watermark: int) -> dict:
    """{"digest": sha256 of the bytes below the HW, "records", "bytes"}."""
    data, records = bytes_below(partition_dir, high_watermark)
    return {"digest": hashlib.sha256(data).hexdigest(), "records": records, "bytes": len(data)}
