"""consume: a confluent-kafka consumer reading a topic vs reading its segment files directly.

A three-node cluster (`quorum up` layout), a 6-partition RF=3 topic filled
with `--mib` MiB of 1 KiB records (acks=all). Then one confluent-kafka
consumer assigns all six partitions from offset 0 and reads every record
(payload MiB/s, from the first poll to the last record).

Baseline, same run: reading the same partitions' segment files of the
partition leaders straight from the file system (1 MiB reads, the page
cache as warm as the consumer's) and decoding every record in them with
rafka's own record decoder (log/records.py, what `rafka dump-log
--records` uses), in MiB/s of record payload: the same records a consumer
hands its application, without a broker, a socket or a client library in
between. The raw read of the files' bytes is printed too, but it is not
the ratio's baseline: it copies page-cache memory at several GB/s and
produces no record, so no consumer (librdkafka alone hands Python about
ten million records a second at most) could reach half of it. Last line:
`consume: X MiB/s (ratio R vs reading the segment files directly, every record decoded)`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_produce import blast  # noqa: E402
from kafka_bench_cluster import QuorumUp, create_topic, leader_of  # noqa: E402

MIB = 1024 * 1024
PARTITIONS = 6
READ_CHUNK = MIB


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mib", type=int, default=100, help="payload MiB of 1 KiB records to read back")
    p.add_argument("--dir", default=None, help="data root (default: a temp dir)")


def consume_all(bootstrap: str, topic: str, count: int, timeout_s: float = 300.0) -> tuple[float, int]:
    """(seconds, payload bytes) to read `count` records from offset 0 of every partition."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False,
                  "log_level": 3, "fetch.max.bytes": 50 * MIB, "max.partition.fetch.bytes": 4 * MIB})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        got = 0
        payload = 0
        start = time.monotonic()
        deadline = start + timeout_s
        while got < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"read {got} of {count} records in {timeout_s}s")
            for m in c.consume(10_000, 0.5):
                if m.error() is not None:
                    raise RuntimeError(str(m.error()))
                got += 1
                payload += len(m.value())
        return time.monotonic() - start, payload
    finally:
        c.close()


def _chunks(path: Path):
    with open(path, "rb", buffering=0) as f:
        while True:
            chunk = f.read(READ_CHUNK)
            if not chunk:
                return
            yield chunk


def read_files(paths: list[Path]) -> tuple[float, int]:
    """(seconds, bytes) to read every file in 1 MiB chunks."""
    total = 0
    start = time.monotonic()
    for path in paths:
        for chunk in _chunks(path):
            total += len(chunk)
    return time.monotonic() - start, total


def decode_files(paths: list[Path]) -> tuple[float, int, int]:
    """(seconds, records, payload bytes) to read every file in 1 MiB chunks
    and decode each whole batch's records (CRC checked, as a consumer's
    client checks it)."""
    from rafka.log.batch import LENGTH_OVERHEAD
    from rafka.log.records import decode_batch

    records = payload = 0
    start = time.monotonic()
    for path in paths:
        buf = b""
        for chunk in _chunks(path):
            buf = buf + chunk if buf else chunk
            pos = 0
            while len(buf) - pos >= 12:
                size = int.from_bytes(buf[pos + 8:pos + 12], "big") + LENGTH_OVERHEAD
                if len(buf) - pos < size:
                    break
                _, recs = decode_batch(buf, pos)
                records += len(recs)
                for r in recs:
                    payload += len(r.value)
                pos += size
            buf = buf[pos:]
    return time.monotonic() - start, records, payload


def run(args) -> int:
    with tempfile.TemporaryDirectory(prefix="rafka-bench-consume-") as tmp:
        root = Path(args.dir or tmp)
        with QuorumUp(root / "cluster") as cluster:
            bs = cluster.bootstrap
            create_topic(bs, "bench-consume", PARTITIONS)
            count = args.mib * MIB // 1024
            blast(bs, "bench-consume", 1024, count)
            leaders = {p: leader_of(bs, "bench-consume", p)[0] for p in range(PARTITIONS)}
            segments = sorted(path for p, node in leaders.items()
                              for path in cluster.partition_dir(node, "bench-consume", p).glob("*.log"))
            read_files(segments)  # warm the page cache as far as the producer left it
            elapsed, payload = consume_all(bs, "bench-consume", count)
            consumer_mib_s = payload / MIB / elapsed
            print(f"consumer: {count} records, {payload / MIB:.1f} MiB payload in {elapsed:.2f}s = "
                  f"{consumer_mib_s:.1f} MiB/s", flush=True)
            file_s, file_bytes = read_files(segments)
            print(f"segment files, raw bytes: {len(segments)} files, {file_bytes / MIB:.1f} MiB in {file_s:.3f}s = "
                  f"{file_bytes / MIB / file_s:.1f} MiB/s", flush=True)
            decode_s, records, decoded = decode_files(segments)
            if records != count:
                raise RuntimeError(f"the segment files hold {records} records, the consumer read {count}")
            decode_mib_s = decoded / MIB / decode_s
            print(f"segment files, every record decoded: {records} records, {decoded / MIB:.1f} MiB payload in "
                  f"{decode_s:.2f}s = {decode_mib_s:.1f} MiB/s", flush=True)
        print(f"consume: {consumer_mib_s:.1f} MiB/s (ratio {consumer_mib_s / decode_mib_s:.2f} vs reading the "
              f"segment files directly, every record decoded)")
    return 0
