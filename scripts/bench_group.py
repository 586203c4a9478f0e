"""group: synchronous offset commits/s of one consumer vs acks=all produces of the same size, and coordinator failover.

A three-node cluster (`quorum up` layout) and a 1-partition RF=3 topic. One
confluent-kafka consumer joins group `bench-group` (subscribe, a real
member) and commits an offset synchronously, one at a time, for
`--seconds`: commits/s. Baseline, same run and same cluster: one
confluent-kafka producer sends acks=all records of the size of one
committed-offset record in `__consumer_offsets` (its key and value as the
coordinator writes them), one at a time (produce + flush), for the same
time: produces/s. An OffsetCommit is acknowledged only once its record is
on the ISR's disks, so the ratio says what the coordinator adds on top.

Coordinator failover, `--trials` times (at least 5): kill -9 the broker the
group's coordinator runs on (DescribeGroups names it; its pid from its data
dir's lock file), then commit synchronously again and again until one
succeeds; the trial's time runs from the kill to that first success. The
quorum-up supervisor restarts the killed node; the next trial starts once
every `__consumer_offsets` partition and the topic have a full ISR again.

Last line: `group: X commits/s (ratio R vs produce), coordinator failover Y ms`
(Y the median over the trials).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_bench_cluster import QuorumUp, admin, create_topic  # noqa: E402

TOPIC = "bench-group"
GROUP = "bench-group"
OFFSETS_TOPIC = "__consumer_offsets"
POLL_S = 0.1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=5.0, help="length of each throughput run")
    p.add_argument("--trials", type=int, default=5, help="coordinator failovers to time (at least 5)")
    p.add_argument("--trial-timeout-s", type=float, default=60.0)
    p.add_argument("--dir", default=None)


def commit_record_size() -> tuple[int, int]:
    """(key bytes, value bytes) of one committed offset as the coordinator stores it."""
    from rafka.broker.group.group import CommittedOffset
    from rafka.broker.group.records import offset_key, offset_value

    key = offset_key(GROUP, TOPIC, 0)
    value = offset_value(CommittedOffset(offset=123456, leader_epoch=3, metadata="",
                                         commit_timestamp_ms=int(time.time() * 1000)))
    return len(key), len(value)


def produce_rate(bootstrap: str, seconds: float, key_bytes: int, value_bytes: int) -> float:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0, "log_level": 0,
                  "enable.idempotence": False})
    key, value = b"k" * key_bytes, b"v" * value_bytes
    failed = []

    def cb(err, _msg):
        if err is not None:
            failed.append(err)

    n = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        p.produce(TOPIC, key=key, value=value, partition=0, on_delivery=cb)
        p.flush(30)
        n += 1
    elapsed = time.monotonic() - start
    if failed:
        raise RuntimeError(f"baseline produce failed: {failed[0]}")
    return n / elapsed


def member(bootstrap: str, timeout_s: float):
    """A consumer in GROUP with partition 0 assigned (subscribe; waits for the assignment)."""
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "log_level": 0, "session.timeout.ms": 45000})
    c.subscribe([TOPIC])
    deadline = time.monotonic() + timeout_s
    while not c.assignment():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no assignment within {timeout_s}s")
        c.poll(POLL_S)
    return c


def commit(consumer, offset: int) -> None:
    from confluent_kafka import TopicPartition

    consumer.commit(offsets=[TopicPartition(TOPIC, 0, offset)], asynchronous=False)


def commit_rate(consumer, seconds: float) -> float:
    n = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        commit(consumer, n + 1)
        n += 1
    return n / (time.monotonic() - start)


def coordinator_of(bootstrap: str, timeout_s: float) -> int:
    client = admin(bootstrap)  # held until the answer is in: librdkafka drops the requests of a freed client
    desc = client.describe_consumer_groups([GROUP], request_timeout=timeout_s)[GROUP].result(timeout_s)
    return desc.coordinator.id


def full_isr(cluster: QuorumUp, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            topics = admin(cluster.bootstrap).list_topics(timeout=5).topics
            if all(all(p.leader >= 0 and len(p.isrs) == 3 for p in topics[name].partitions.values())
                   for name in (TOPIC, OFFSETS_TOPIC)):
                return
        except Exception:  # noqa: BLE001 - a node still restarting
            pass
        time.sleep(0.2)  # wait-ok: bounded by the deadline
    raise RuntimeError(f"no full ISR everywhere after {timeout_s}s")


def one_trial(cluster: QuorumUp, consumer, offset: int, timeout_s: float) -> float:
    from confluent_kafka import KafkaException

    coordinator = coordinator_of(cluster.bootstrap, timeout_s)
    start = time.monotonic()
    cluster.kill_node(coordinator)
    errors: dict[str, int] = {}
    while time.monotonic() - start < timeout_s:
        try:
            commit(consumer, offset)
        except KafkaException as exc:
            name = exc.args[0].name() if exc.args else "?"
            errors[name] = errors.get(name, 0) + 1
            consumer.poll(0)  # serve rebalance callbacks, keep the member alive
            continue
        took = time.monotonic() - start
        print(f"  killed node {coordinator}; commit errors before success: {errors or 'none'}", flush=True)
        return took
    raise RuntimeError(f"no commit succeeded within {timeout_s}s of killing node {coordinator}: {errors}")


def run(args) -> int:
    if args.trials < 5:
        print("group: --trials must be at least 5", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="rafka-bench-group-") as tmp:
        root = Path(args.dir or tmp)
        with QuorumUp(root / "cluster") as cluster:
            create_topic(cluster.bootstrap, TOPIC, 1)
            key_bytes, value_bytes = commit_record_size()
            consumer = member(cluster.bootstrap, args.trial_timeout_s)
            try:
                commit(consumer, 0)  # the coordinator is found and __consumer_offsets exists
                full_isr(cluster, args.trial_timeout_s)
                produces = produce_rate(cluster.bootstrap, args.seconds, key_bytes, value_bytes)
                print(f"baseline: {produces:.0f} acks=all produces/s, one at a time "
                      f"({key_bytes} B key + {value_bytes} B value)", flush=True)
                commits = commit_rate(consumer, args.seconds)
                print(f"commits: {commits:.0f} synchronous commits/s from one consumer", flush=True)
                times = []
                offset = 10**6
                for n in range(args.trials):
                    full_isr(cluster, args.trial_timeout_s * 2)
                    t = one_trial(cluster, consumer, offset + n, args.trial_timeout_s)
                    times.append(t * 1000)
                    print(f"trial {n + 1}: {t * 1000:.0f} ms", flush=True)
            finally:
                consumer.close()
        median = statistics.median(times)
        print(f"coordinator failover: median {median:.0f} ms (max {max(times):.0f} ms, {len(times)} trials)")
        print(f"group: {commits:.0f} commits/s (ratio {commits / produces:.2f} vs produce), "
              f"coordinator failover {median:.0f} ms")
    return 0
