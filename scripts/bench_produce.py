"""produce: acks=all throughput of a three-node cluster (`quorum up` layout) vs the disk's limit for RF=3.

A 6-partition, replication-factor-3 topic; confluent-kafka producers with
acks=all (default batching, linger 5 ms, no compression):

1. 1 KiB records, `--mib` MiB in total, as fast as the producer goes:
   MiB/s (payload bytes / time from the first send to the last ack);
2. 100 B records, `--small-records` of them: records/s;
3. at half the 1 KiB record rate of (1), paced for `--latency-s`: the p99
   of each record's send-to-ack latency (and, for context on its own line,
   the same at a light 200 records/s: the floor, with the producer's 5 ms
   linger inside it).

Baseline, same run: the same payload bytes written three times (three
files, one per replica, three writer threads) with the brokers' fsync
cadence: one fsync per producer batch, of the average batch size librdkafka
reported in (1). That is the disk limit for RF=3 on this machine; the ratio
is (1) over it. Last line:
`produce: X MiB/s, Y records/s (100 B), p99 Z ms at half load (ratio R vs disk limit for RF=3)`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_bench_cluster import QuorumUp, create_topic  # noqa: E402

MIB = 1024 * 1024
PARTITIONS = 6
LIGHT_LOAD_RECORDS_S = 200
LIGHT_LOAD_S = 5.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mib", type=int, default=100, help="payload MiB of 1 KiB records")
    p.add_argument("--small-records", type=int, default=200_000, help="100 B records for the records/s figure")
    p.add_argument("--latency-s", type=float, default=10.0, help="seconds of paced produce at half load")
    p.add_argument("--dir", default=None, help="data root (default: a temp dir)")
    p.add_argument("--plot", default=None, metavar="FILE",
                   help="draw throughput and latency over time to FILE (PNG; matplotlib from the jepsen extra)")


def producer(bootstrap: str, stats: list | None = None):
    from confluent_kafka import Producer

    conf = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "log_level": 3,
            "queue.buffering.max.kbytes": 512 * 1024, "queue.buffering.max.messages": 1_000_000}
    if stats is not None:
        conf["statistics.interval.ms"] = 500
        conf["stats_cb"] = stats.append
    return Producer(conf)


class Timeline:
    """Acknowledgements over time in `bucket_s` buckets (bytes, count, a
    bounded sample of latencies each), and the phases, for --plot."""

    LATENCIES_PER_BUCKET_MAX = 2000

    def __init__(self, bucket_s: float = 0.25) -> None:
        self.start = time.monotonic()
        self.bucket_s = bucket_s
        self.buckets: dict[int, list] = {}  # index -> [bytes, count, latencies]
        self.phases: list[tuple[float, str]] = []

    def phase(self, name: str) -> None:
        self.phases.append((time.monotonic() - self.start, name))

    def ack(self, nbytes: int, latency_s: float | None) -> None:
        b = self.buckets.setdefault(int((time.monotonic() - self.start) / self.bucket_s), [0, 0, []])
        b[0] += nbytes
        b[1] += 1
        if latency_s is not None and len(b[2]) < self.LATENCIES_PER_BUCKET_MAX:
            b[2].append(latency_s)


def require_matplotlib():
    """matplotlib.pyplot for --plot (the jepsen plot's own check), or a
    one-line exit saying what to install."""
    from tests.jepsen.plot import PlotDependencyError, require_matplotlib as require

    try:
        return require()
    except PlotDependencyError as exc:
        raise SystemExit(f"produce --plot: {exc}") from None


def draw(timeline: Timeline, path: str) -> None:
    plt = require_matplotlib()

    idx = sorted(timeline.buckets)
    xs = [i * timeline.bucket_s for i in idx]
    mib_s = [timeline.buckets[i][0] / MIB / timeline.bucket_s for i in idx]
    p99 = []
    for i in idx:
        lat = sorted(timeline.buckets[i][2])
        p99.append(1000 * lat[int(0.99 * (len(lat) - 1))] if lat else float("nan"))
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
    top.plot(xs, mib_s)
    top.set_ylabel("acknowledged MiB/s")
    bottom.plot(xs, p99, ".", markersize=3)
    bottom.set_ylabel("p99 send-to-ack ms")
    bottom.set_yscale("log")
    bottom.set_xlabel("seconds")
    for t, name in timeline.phases:
        for ax in (top, bottom):
            ax.axvline(t, color="grey", linewidth=0.8)
        top.annotate(name, (t, 0), xytext=(3, 3), textcoords="offset points", fontsize=8)
    fig.suptitle("rafka produce: 6 partitions, RF=3, acks=all")
    fig.tight_layout()
    fig.savefig(path)


def blast(bootstrap: str, topic: str, size: int, count: int, stats: list | None = None,
          timeline: Timeline | None = None) -> float:
    """Send `count` records of `size` bytes as fast as possible; seconds to the last ack."""
    p = producer(bootstrap, stats)
    value = os.urandom(size)
    failed = []

    def cb(err, msg):
        if err is not None:
            failed.append(err)
        elif timeline is not None:
            timeline.ack(size, msg.latency())

    start = time.monotonic()
    for i in range(count):
        while True:
            try:
                p.produce(topic, value=value, key=b"%d" % i, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.01)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(300)
    elapsed = time.monotonic() - start
    if left or failed:
        raise RuntimeError(f"{left} unacknowledged, {len(failed)} failed ({failed[:1]})")
    p.poll(0.6)  # one more statistics callback
    return elapsed


def paced_p99_ms(bootstrap: str, topic: str, size: int, rate: float, seconds: float,
                 timeline: Timeline | None = None) -> float:
    """p99 send-to-ack latency (ms) at `rate` records/s for `seconds`."""
    p = producer(bootstrap)
    value = os.urandom(size)
    latencies: list[float] = []
    failed = []

    def cb(err, msg):
        if err is not None:
            failed.append(err)
        else:
            latencies.append(msg.latency())
            if timeline is not None:
                timeline.ack(size, msg.latency())

    start = time.monotonic()
    sent = 0
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        due = int((now - start) * rate)
        while sent < due:
            p.produce(topic, value=value, key=b"%d" % sent, on_delivery=cb)
            sent += 1
        p.poll(0.001)
    p.flush(60)
    if failed:
        raise RuntimeError(f"{len(failed)} failed at half load ({failed[:1]})")
    latencies.sort()
    return 1000 * latencies[int(0.99 * (len(latencies) - 1))]


def avg_batch_bytes(stats: list, topic: str) -> int:
    for raw in reversed(stats):
        t = json.loads(raw).get("topics", {}).get(topic)
        if t and t.get("batchsize", {}).get("avg"):
            return int(t["batchsize"]["avg"])
    raise RuntimeError("librdkafka reported no batch size")


def disk_limit_mib_s(total_bytes: int, chunk: int, root: Path) -> float:
    """MiB/s of payload when written three times (three files in parallel),
    fsync after every `chunk` bytes."""
    data = os.urandom(chunk)

    def writer(path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            written = 0
            while written < total_bytes:
                written += os.write(fd, data)
                os.fsync(fd)
        finally:
            os.close(fd)

    threads = [threading.Thread(target=writer, args=(root / f"replica-{i}.bin",)) for i in range(3)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    for i in range(3):
        (root / f"replica-{i}.bin").unlink()
    return total_bytes / MIB / elapsed


def run(args) -> int:
    if args.plot:
        require_matplotlib()  # before minutes of load, not after
    with tempfile.TemporaryDirectory(prefix="rafka-bench-produce-") as tmp:
        root = Path(args.dir or tmp)
        with QuorumUp(root / "cluster") as cluster:
            bs = cluster.bootstrap
            create_topic(bs, "bench-1k", PARTITIONS)
            create_topic(bs, "bench-100b", PARTITIONS)
            create_topic(bs, "bench-latency", PARTITIONS)
            count = args.mib * MIB // 1024
            stats: list = []
            timeline = Timeline() if args.plot else None
            if timeline:
                timeline.phase("1 KiB, full speed")
            elapsed = blast(bs, "bench-1k", 1024, count, stats, timeline)
            mib_s = args.mib / elapsed
            rec_s_1k = count / elapsed
            print(f"1 KiB records: {count} in {elapsed:.2f}s = {mib_s:.1f} MiB/s ({rec_s_1k:.0f} records/s)",
                  flush=True)
            if timeline:
                timeline.phase("100 B, full speed")
            small_elapsed = blast(bs, "bench-100b", 100, args.small_records, timeline=timeline)
            rec_s = args.small_records / small_elapsed
            print(f"100 B records: {args.small_records} in {small_elapsed:.2f}s = {rec_s:.0f} records/s", flush=True)
            half = rec_s_1k / 2
            if timeline:
                timeline.phase("1 KiB, half load")
            p99 = paced_p99_ms(bs, "bench-latency", 1024, half, args.latency_s, timeline)
            print(f"half load: {half:.0f} records/s of 1 KiB for {args.latency_s:g}s, p99 {p99:.1f} ms", flush=True)
            # Context for the p99: the same paced producer at a light load.
            # Its linger.ms (5) is inside every send-to-ack latency.
            light = paced_p99_ms(bs, "bench-latency", 1024, LIGHT_LOAD_RECORDS_S, LIGHT_LOAD_S)
            print(f"light load: {LIGHT_LOAD_RECORDS_S} records/s of 1 KiB for {LIGHT_LOAD_S:g}s, p99 {light:.1f} ms "
                  f"(linger.ms 5 included)", flush=True)
            batch = avg_batch_bytes(stats, "bench-1k")
        limit = disk_limit_mib_s(args.mib * MIB, batch, root)
        print(f"disk limit for RF=3: {args.mib} MiB x 3 files, fsync every {batch} B (avg producer batch): "
              f"{limit:.1f} MiB/s", flush=True)
        if timeline:
            draw(timeline, args.plot)
            print(f"plot: {args.plot}", flush=True)
        print(f"produce: {mib_s:.1f} MiB/s, {rec_s:.0f} records/s (100 B), p99 {p99:.1f} ms at half load "
              f"(ratio {mib_s / limit:.2f} vs disk limit for RF=3)")
    return 0
