"""memory: RSS and open files per node with many partitions, idle and under load.

A three-node cluster (`quorum up` layout) with `--partitions` partitions at
replication factor 3 (1,000 by default, in topics of `--per-topic`). Each
node's resident memory (VmRSS from /proc) and open file descriptors
(/proc/PID/fd) are read when the cluster is idle with every partition led
and fully in sync, then again after `--load-s` seconds of acks=all produces
spread over every partition (confluent-kafka, 100 B records).

Baseline, same run: the same three nodes before any topic exists. Last
line: `memory: X MiB RSS, Y open files per node at N partitions x RF 3
(idle), X2 MiB, Y2 files under load (ratio R vs an empty cluster's RSS)`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_bench_cluster import QuorumUp, create_topic  # noqa: E402

MIB = 1024 * 1024


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--partitions", type=int, default=1000, help="partitions in all (each RF 3)")
    p.add_argument("--per-topic", type=int, default=100, help="partitions per topic")
    p.add_argument("--load-s", type=float, default=20.0, help="seconds of produce load")
    p.add_argument("--dir", default=None, help="data root (default: a temp dir)")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def sample(cluster: QuorumUp) -> tuple[float, float]:
    """(mean RSS MiB, mean open files) over the nodes."""
    pids = [cluster.node_pid(i) for i in range(1, cluster.nodes + 1)]
    return (sum(rss_mib(p) for p in pids) / len(pids), sum(open_files(p) for p in pids) / len(pids))


def load(bootstrap: str, topics: list[tuple[str, int]], seconds: float) -> int:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "log_level": 0})
    sent = 0
    deadline = time.monotonic() + seconds
    value = b"x" * 100
    while time.monotonic() < deadline:
        for name, n in topics:
            for p in range(n):
                while True:
                    try:
                        producer.produce(name, value=value, partition=p)
                        break
                    except BufferError:
                        producer.poll(0.05)
                sent += 1
        producer.poll(0)
    producer.flush(60)
    return sent


def run(args) -> int:
    with QuorumUp(Path(args.dir) if args.dir else None) as cluster:
        empty_rss, empty_files = sample(cluster)
        topics = []
        left = args.partitions
        while left > 0:
            n = min(args.per_topic, left)
            name = f"mem-{len(topics)}"
            create_topic(cluster.bootstrap, name, n, 3, timeout_s=300)
            topics.append((name, n))
            left -= n
        idle_rss, idle_files = sample(cluster)
        print(f"idle: {idle_rss:.0f} MiB RSS, {idle_files:.0f} open files per node "
              f"(empty cluster: {empty_rss:.0f} MiB, {empty_files:.0f} files)", flush=True)
        sent = load(cluster.bootstrap, topics, args.load_s)
        load_rss, load_files = sample(cluster)
        print(f"load: {sent} records produced; {load_rss:.0f} MiB RSS, {load_files:.0f} open files per node",
              flush=True)
    print(f"memory: {idle_rss:.0f} MiB RSS, {idle_files:.0f} open files per node at {args.partitions} "
          f"partitions x RF 3 (idle), {load_rss:.0f} MiB, {load_files:.0f} files under load "
          f"(ratio {idle_rss / empty_rss:.2f} vs an empty cluster's RSS)")
    return 0
