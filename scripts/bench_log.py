"""log: segment-log append and read throughput vs a plain file.

Appends --mib MiB of 16 KiB batches (16 records of 1 KiB, built once) through
PartitionLog.append(assign_offsets=True) -- the real append path: header
validation, CRC, offset stamping, index upkeep -- with a flush() every
--flush-mib MiB, and writes the same bytes to a plain file with the same
fsync cadence. Then reads both back sequentially: the log via read(offset,
1 MiB), the file via f.read(1 MiB). The two sides alternate chunk by chunk
and each side's time is summed, so load from other processes hits both
alike. Prints `log-read: ...` and, last, `log-append: X MiB/s (ratio R vs
raw file write)`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rafka.log.batch import parse_header  # noqa: E402
from rafka.log.config import LogConfig  # noqa: E402
from rafka.log.partition_log import PartitionLog  # noqa: E402
from rafka.log.records import Record, build_batch  # noqa: E402

MIB = 1024 * 1024
READ_BYTES = MIB


def add_arguments(parser) -> None:
    parser.add_argument("--mib", type=int, default=512, help="MiB to append (default 512)")
    parser.add_argument("--flush-mib", type=int, default=4, help="fsync every this many MiB (default 4)")
    parser.add_argument("--record-bytes", type=int, default=1024)
    parser.add_argument("--records-per-batch", type=int, default=16)
    parser.add_argument("--dir", default=None, help="parent of the temp directory (default: system temp)")


def _build(args) -> bytes:
    value = bytes(range(256)) * (args.record_bytes // 256 + 1)
    records = [Record(None, value[: args.record_bytes]) for _ in range(args.records_per_batch)]
    return build_batch(records, timestamp_ms=int(time.time() * 1000))


def _append_chunk(log: PartitionLog, batch: bytes, n: int) -> float:
    """Seconds to append `n` batches through the real append path and flush."""
    start = time.perf_counter()
    for _ in range(n):
        log.append(batch)
    log.flush()
    return time.perf_counter() - start


def _write_chunk(raw, batch: bytes, n: int) -> float:
    """Seconds to write `n` batches to the plain file and fsync it."""
    start = time.perf_counter()
    for _ in range(n):
        raw.write(batch)
    raw.flush()
    os.fsync(raw.fileno())
    return time.perf_counter() - start


def run(args) -> int:
    batch = _build(args)
    batches_total = max(1, args.mib * MIB // len(batch))
    per_flush = max(1, args.flush_mib * MIB // len(batch))
    records = parse_header(batch).record_count
    root = tempfile.mkdtemp(prefix="rafka-bench-log-", dir=args.dir)
    try:
        log = PartitionLog.open(os.path.join(root, "bench-0"), LogConfig())
        raw_path = os.path.join(root, "raw.bin")
        raw = open(raw_path, "wb")
        log_s = raw_s = 0.0
        done = 0
        while done < batches_total:
            n = min(per_flush, batches_total - done)
            # Alternate which side goes first so neither always follows the
            # other's fsync.
            if (done // per_flush) % 2 == 0:
                log_s += _append_chunk(log, batch, n)
                raw_s += _write_chunk(raw, batch, n)
            else:
                raw_s += _write_chunk(raw, batch, n)
                log_s += _append_chunk(log, batch, n)
            done += n
        raw.close()
        total_mib = batches_total * len(batch) / MIB
        assert log.log_end_offset == batches_total * records

        read_log_s = read_raw_s = 0.0
        offset = 0
        got_log = got_raw = 0
        with open(raw_path, "rb", buffering=0) as f:
            while offset < log.log_end_offset or got_raw < got_log:
                t0 = time.perf_counter()
                data = log.read(offset, READ_BYTES)
                if data:
                    last = parse_header(data, len(data) - len(batch))
                    offset = last.next_offset
                t1 = time.perf_counter()
                chunk = f.read(READ_BYTES)
                t2 = time.perf_counter()
                got_log += len(data)
                got_raw += len(chunk)
                read_log_s += t1 - t0
                read_raw_s += t2 - t1
                if not data and not chunk:
                    break
        log.close()
        if got_log != got_raw:
            print(f"read mismatch: log {got_log} bytes, raw file {got_raw} bytes")
            return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    read_rate, raw_read_rate = total_mib / read_log_s, total_mib / read_raw_s
    append_rate, raw_write_rate = total_mib / log_s, total_mib / raw_s
    print(f"batches: {batches_total} x {len(batch)} bytes, fsync every {args.flush_mib} MiB")
    print(f"raw-file-write: {raw_write_rate:.0f} MiB/s  raw-file-read: {raw_read_rate:.0f} MiB/s")
    print(f"log-read: {read_rate:.0f} MiB/s (ratio {read_rate / raw_read_rate:.2f} vs raw file read)")
    print(f"log-append: {append_rate:.0f} MiB/s (ratio {append_rate / raw_write_rate:.2f} vs raw file write)")
    return 0
