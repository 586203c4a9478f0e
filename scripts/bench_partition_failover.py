"""partition-failover: kill -9 a partition leader under load; time until an acks=all produce succeeds on the new leader.

A three-node cluster (`quorum up` layout, its default broker session
timeout: a dead broker is noticed when its heartbeats stop), a 6-partition
RF=3 topic with min.insync.replicas=2, and a confluent-kafka producer
loading it with acks=all 1 KiB records at `--load-rate` records/s
throughout. Each trial: kill -9 the leader of partition 0 (its pid from
its data dir's lock file), then offer a one-record acks=all Produce to
partition 0 on every surviving broker every few milliseconds (raw Kafka
frames, so no client backoff is measured); the trial's time runs from the
kill to the first success. The supervisor restarts the killed node; the
next trial starts once every partition has a full ISR again.

Baseline, same run: the median latency of the same one-record acks=all
Produce with no failure. Last line:
`partition-failover: median X ms (max Y ms, N trials) (ratio R vs a steady-state acks=all produce)`.
"""

from __future__ import annotations

import argparse
import datetime
import io
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_bench_cluster import QuorumUp, admin, create_topic, leader_of  # noqa: E402

PARTITIONS = 6
TOPIC = "bench-failover"
PROBE_INTERVAL_S = 0.005
PROBE_TIMEOUT_S = 2.0
_SIZE = struct.Struct(">i")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trials", type=int, default=5, help="failovers to time (at least 5)")
    p.add_argument("--load-rate", type=float, default=2000.0, help="background 1 KiB records/s")
    p.add_argument("--trial-timeout-s", type=float, default=60.0)
    p.add_argument("--dir", default=None)


def probe_produce(address: str, batch: bytes, timeout_s: float = PROBE_TIMEOUT_S) -> int:
    """One Produce v9 acks=-1 of `batch` to partition 0; its error code
    (-1 when the broker cannot be reached or does not answer in time)."""
    from kio.serial import entity_reader, entity_writer
    from kio.schema.produce.v9.request import PartitionProduceData, ProduceRequest, TopicProduceData
    from kio.schema.produce.v9.response import ProduceResponse

    from rafka.broker.kafka.header import RequestHeader, encode_request_header

    req = ProduceRequest(transactional_id=None, acks=-1, timeout=datetime.timedelta(seconds=timeout_s / 2),
                         topic_data=(TopicProduceData(name=TOPIC, partition_data=(
                             PartitionProduceData(index=0, records=batch),)),))
    body = io.BytesIO()
    entity_writer(ProduceRequest)(body, req)
    payload = encode_request_header(RequestHeader(0, 9, 1, "bench", 2)) + body.getvalue()
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as s:
            s.sendall(_SIZE.pack(len(payload)) + payload)
            buf = b""
            while len(buf) < 4 or len(buf) < 4 + _SIZE.unpack_from(buf)[0]:
                chunk = s.recv(65536)
                if not chunk:
                    return -1
                buf += chunk
    except OSError:
        return -1
    resp, _ = entity_reader(ProduceResponse)(buf[4:], 5)  # correlation id + empty tagged fields
    return int(resp.responses[0].partition_responses[0].error_code)


def record_batch() -> bytes:
    from rafka.log.records import Record, build_batch

    return build_batch([Record(b"probe", b"x" * 1024)], timestamp_ms=int(time.time() * 1000))


class Load:
    """A background acks=all producer at a fixed rate (errors counted, not fatal)."""

    def __init__(self, bootstrap: str, rate: float) -> None:
        self.bootstrap, self.rate = bootstrap, rate
        self.stop = threading.Event()
        self.acked = 0
        self.failed = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 5, "log_level": 0,
                      "message.timeout.ms": 60000})
        value = b"x" * 1024

        def cb(err, _msg):
            if err is None:
                self.acked += 1
            else:
                self.failed += 1

        start = time.monotonic()
        sent = 0
        while not self.stop.is_set():
            due = int((time.monotonic() - start) * self.rate)
            while sent < due:
                try:
                    p.produce(TOPIC, value=value, key=b"%d" % sent, on_delivery=cb)
                except BufferError:
                    break
                sent += 1
            p.poll(0.005)
        p.flush(30)


def full_isr_everywhere(cluster: QuorumUp, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            t = admin(cluster.bootstrap).list_topics(TOPIC, timeout=5).topics[TOPIC]
            if all(p.leader >= 0 and len(p.isrs) == 3 for p in t.partitions.values()):
                return
        except Exception:  # noqa: BLE001 - a node still restarting
            pass
        time.sleep(0.1)  # wait-ok: bounded by the deadline
    raise RuntimeError(f"no full ISR on every partition after {timeout_s}s")


def one_trial(cluster: QuorumUp, batch: bytes, timeout_s: float) -> float:
    leader, _isr = leader_of(cluster.bootstrap, TOPIC, 0)
    survivors = [cluster.kafka_address(i) for i in range(1, cluster.nodes + 1) if i != leader]
    start = time.monotonic()
    cluster.kill_node(leader)
    while time.monotonic() - start < timeout_s:
        for address in survivors:
            if probe_produce(address, batch) == 0:
                return time.monotonic() - start
        time.sleep(PROBE_INTERVAL_S)  # wait-ok: the probe cadence, bounded by the trial deadline
    raise RuntimeError(f"no acks=all produce succeeded within {timeout_s}s of killing node {leader}")


def run(args) -> int:
    if args.trials < 5:
        print("partition-failover: --trials must be at least 5", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="rafka-bench-pfailover-") as tmp:
        root = Path(args.dir or tmp)
        with QuorumUp(root / "cluster") as cluster:
            create_topic(cluster.bootstrap, TOPIC, PARTITIONS, configs={"min.insync.replicas": "2"})
            batch = record_batch()
            leader, _ = leader_of(cluster.bootstrap, TOPIC, 0)
            steady = []
            for _ in range(50):
                t0 = time.monotonic()
                code = probe_produce(cluster.kafka_address(leader), batch)
                if code != 0:
                    raise RuntimeError(f"steady-state produce failed with error {code}")
                steady.append(time.monotonic() - t0)
            baseline_ms = 1000 * statistics.median(steady)
            print(f"steady state: acks=all one-record produce median {baseline_ms:.1f} ms", flush=True)
            load = Load(cluster.bootstrap, args.load_rate)
            load.thread.start()
            times = []
            try:
                for n in range(args.trials):
                    full_isr_everywhere(cluster, args.trial_timeout_s * 2)
                    t = one_trial(cluster, batch, args.trial_timeout_s)
                    times.append(t * 1000)
                    print(f"trial {n + 1}: {t * 1000:.0f} ms (load: {load.acked} acked, {load.failed} failed)",
                          flush=True)
                full_isr_everywhere(cluster, args.trial_timeout_s * 2)
            finally:
                load.stop.set()
                load.thread.join(60)
        median = statistics.median(times)
        print(f"partition-failover: median {median:.0f} ms (max {max(times):.0f} ms, {len(times)} trials) "
              f"(ratio {median / baseline_ms:.0f} vs a steady-state acks=all produce)")
    return 0
