"""Goal: the Kafka data path keeps its promises on real processes under
faults (3 nodes, confluent-kafka clients):

- kill -9 of a partition leader during a stream of acks=all produces:
  every acknowledged record is read back from the new leader at its
  acknowledged offset; the killed broker restarts, truncates, rejoins the
  ISR, and every replica's log is byte-identical below the HW;
- SIGSTOP of a follower longer than replica.lag.time.max.ms: it leaves the
  ISR and acks=all goes on with min.insync.replicas=2; after SIGCONT it
  catches up and rejoins;
- min.insync.replicas=3 with a broker down: NOT_ENOUGH_REPLICAS and
  nothing appended.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
import trio

from rafka.broker.replica.produce_validation import iter_headers
from rafka.log.dump import segment_files
from rafka.log.records import Record, build_batch
from tests.integration.conftest import wait_for
from tests.integration.kafka_clients import in_thread

pytestmark = pytest.mark.integration

BROKER_TIMING = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 300}
LAG_TIME_MAX_MS = 1500
NOT_ENOUGH_REPLICAS = 19


def admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})


def create_topic(bootstrap: str, name: str, configs: dict) -> None:
    from confluent_kafka.admin import NewTopic

    client = admin(bootstrap)  # kept alive until the result is in
    client.create_topics([NewTopic(name, 1, 3, config={k: str(v) for k, v in configs.items()})])[name].result(30)


def partition_state(bootstrap: str, topic: str):
    """(leader, isr) of partition 0 as Metadata says now."""
    md = admin(bootstrap).list_topics(topic, timeout=5)
    p = md.topics[topic].partitions[0]
    return p.leader, tuple(sorted(p.isrs))


class ProducerStream:
    """A confluent-kafka producer (acks=all, idempotent) sending record i =
    b"%d" % i from a worker thread until stopped; remembers what was
    acknowledged, at which offset."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.acked: dict[int, int] = {}
        self.failed: dict[int, str] = {}
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
                      "message.timeout.ms": 30000, "linger.ms": 2, "log_level": 0})

        def report(i):
            def cb(err, msg):
                if err is None:
                    self.acked[i] = msg.offset()
                else:
                    self.failed[i] = err.str()
            return cb

        while not self.stop.is_set():
            try:
                p.produce(self.topic, key=b"k", value=b"%d" % self.sent, on_delivery=report(self.sent))
                self.sent += 1
            except BufferError:
                pass
            p.poll(0.001)
        assert p.flush(60) == 0, "records still queued after 60 s"


def read_all(bootstrap: str, topic: str, timeout_s: float = 60.0) -> tuple[dict[int, int], int]:
    """({offset: value index}, HW) read from the beginning up to the HW."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False,
                  "log_level": 0})
    try:
        _low, hw = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, 0)])
        out: dict[int, int] = {}
        deadline = time.monotonic() + timeout_s
        while len(out) < hw and time.monotonic() < deadline:
            for m in c.consume(1000, 0.5):
                assert m.error() is None, m.error()
                assert m.offset() not in out
                out[m.offset()] = int(m.value())
        return out, hw
    finally:
        c.close()


def log_bytes_below(node_dir: Path, topic: str, hw: int) -> bytes:
    """The partition's batches below `hw` as stored in node_dir's segment files."""
    out = bytearray()
    for seg in segment_files(node_dir / "data" / f"{topic}-0"):
        data = seg.read_bytes()
        pos = 0
        for h in iter_headers(data):
            if h.last_offset < hw:
                out += data[pos:pos + h.size]
            pos += h.size
    return bytes(out)


async def start_cluster(cluster_factory, replica: dict | None = None):
    cluster = await cluster_factory(3, kafka=True, broker=BROKER_TIMING)
    if replica:
        for i in cluster.ids:
            with open(cluster.config_path(i), "a") as f:
                f.write("\n[replica]\n" + "".join(f"{k} = {v}\n" for k, v in replica.items()))
    cluster.start_all()
    await cluster.wait_leader(timeout_s=30)

    async def brokers():
        md = await in_thread(lambda: admin(cluster.kafka_bootstrap).list_topics(timeout=5))
        return sorted(md.brokers) == cluster.ids

    await wait_for(brokers, timeout_s=30, what="three brokers in Metadata")
    return cluster


async def wait_isr(cluster, topic: str, want: int, what: str, exclude=(), timeout_s: float = 60.0):
    bootstrap = ",".join(cluster.kafka_address(i) for i in cluster.ids if i not in exclude and cluster.alive(i))

    async def probe():
        leader, isr = await in_thread(partition_state, bootstrap, topic)
        return (leader, isr) if leader >= 0 and len(isr) == want and leader not in exclude else None

    return await wait_for(probe, timeout_s=timeout_s, what=what)


async def identical_below_hw(cluster, topic: str, hw: int) -> bytes:
    logs = {i: log_bytes_below(cluster.node_dir(i), topic, hw) for i in cluster.ids}
    assert logs[1] == logs[2] == logs[3], {i: len(b) for i, b in logs.items()}
    assert sum(h.record_count for h in iter_headers(logs[1])) == hw
    return logs[1]


async def test_kill_leader_during_acks_all_stream(cluster_factory):
    cluster = await start_cluster(cluster_factory)
    await in_thread(create_topic, cluster.kafka_bootstrap, "f", {"min.insync.replicas": 2})
    leader, _ = await wait_isr(cluster, "f", 3, "partition f-0 with an ISR of 3")
    stream = ProducerStream(cluster.kafka_bootstrap, "f")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(in_thread, stream.run)
        await wait_for(lambda: trio.to_thread.run_sync(lambda: len(stream.acked) >= 300), timeout_s=30,
                       what="300 acknowledged records")
        await cluster.kill(leader)
        acked_at_kill = len(stream.acked)
        new_leader, isr = await wait_isr(cluster, "f", 2, "a new leader with an ISR of 2", exclude=(leader,))
        await wait_for(lambda: trio.to_thread.run_sync(lambda: len(stream.acked) >= acked_at_kill + 300),
                       timeout_s=60, what="300 more records acknowledged by the new leader")
        stream.stop.set()
    assert not stream.failed, list(stream.failed.items())[:3]
    survivors = ",".join(cluster.kafka_address(i) for i in cluster.ids if i != leader)
    got, hw = await in_thread(read_all, survivors, "f")
    for i, offset in stream.acked.items():
        assert got.get(offset) == i, f"acknowledged record {i} at offset {offset}: read {got.get(offset)}"
    assert len(set(got.values())) == len(got), "a record was appended twice"

    cluster.start(leader)
    await wait_isr(cluster, "f", 3, "the restarted broker back in the ISR")

    async def caught_up():
        _got, hw_now = await in_thread(read_all, cluster.kafka_bootstrap, "f")
        return [log_bytes_below(cluster.node_dir(i), "f", hw_now) for i in cluster.ids], hw_now

    logs_hw = await wait_for(lambda: caught_up_equal(caught_up), timeout_s=30,
                             what="all three logs byte-identical below the HW")
    assert logs_hw >= hw


async def caught_up_equal(caught_up):
    logs, hw = await caught_up()
    return hw if logs[0] == logs[1] == logs[2] and sum(h.record_count for h in iter_headers(logs[0])) == hw \
        else None


async def test_stopped_follower_leaves_isr_and_rejoins(cluster_factory):
    cluster = await start_cluster(cluster_factory, replica={"lag_time_max_ms": LAG_TIME_MAX_MS})
    await in_thread(create_topic, cluster.kafka_bootstrap, "s", {"min.insync.replicas": 2})
    leader, isr = await wait_isr(cluster, "s", 3, "partition s-0 with an ISR of 3")
    raft_leader = (await cluster.wait_leader(timeout_s=10))["leader_id"]
    followers = [i for i in isr if i != leader]
    victim = next((i for i in followers if i != raft_leader), followers[0])
    stream = ProducerStream(cluster.kafka_bootstrap, "s")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(in_thread, stream.run)
        await wait_for(lambda: trio.to_thread.run_sync(lambda: len(stream.acked) >= 100), timeout_s=30,
                       what="100 acknowledged records")
        cluster.signal(victim, signal.SIGSTOP)
        try:
            _leader, isr = await wait_isr(cluster, "s", 2, "the stopped follower out of the ISR", exclude=(victim,))
            assert victim not in isr
            n = len(stream.acked)
            await wait_for(lambda: trio.to_thread.run_sync(lambda: len(stream.acked) >= n + 300), timeout_s=30,
                           what="acks=all going on with two in-sync replicas")
        finally:
            cluster.signal(victim, signal.SIGCONT)
        await wait_isr(cluster, "s", 3, "the resumed follower back in the ISR")
        stream.stop.set()
    assert not stream.failed, list(stream.failed.items())[:3]
    got, hw = await in_thread(read_all, cluster.kafka_bootstrap, "s")
    for i, offset in stream.acked.items():
        assert got.get(offset) == i
    await wait_for(lambda: caught_up_equal(lambda: _logs(cluster, "s")), timeout_s=30,
                   what="all three logs byte-identical below the HW")


async def _logs(cluster, topic):
    _got, hw = await in_thread(read_all, cluster.kafka_bootstrap, topic)
    return [log_bytes_below(cluster.node_dir(i), topic, hw) for i in cluster.ids], hw


async def test_min_isr_three_with_a_broker_down_appends_nothing(cluster_factory):
    from tests.integration.raw_kafka import RawKafka
    from tests.integration.test_kafka_bad_input import latest, produce

    cluster = await start_cluster(cluster_factory)
    await in_thread(create_topic, cluster.kafka_bootstrap, "m", {"min.insync.replicas": 3})
    leader, isr = await wait_isr(cluster, "m", 3, "partition m-0 with an ISR of 3")
    batch = build_batch([Record(b"k", b"v")], timestamp_ms=1_700_000_000_000)

    def produce_ok():
        with RawKafka(cluster.kafka_address(leader)) as raw:
            return produce(raw, batch, topic="m")[0] == 0

    await wait_for(lambda: in_thread(produce_ok), timeout_s=30, what="acks=all with three in sync")
    victim = next(i for i in isr if i != leader)
    await cluster.kill(victim)
    await wait_isr(cluster, "m", 2, "the killed broker out of the ISR", exclude=(victim,))
    leader_dir = cluster.node_dir(leader) / "data" / "m-0"

    def refused():
        with RawKafka(cluster.kafka_address(leader)) as raw:
            before = latest(raw, "m")
            size = sum(p.stat().st_size for p in segment_files(leader_dir))
            code = produce(raw, batch, topic="m")[0]
            return code, before, latest(raw, "m"), size, sum(p.stat().st_size for p in segment_files(leader_dir))

    code, hw_before, hw_after, size_before, size_after = await in_thread(refused)
    assert code == NOT_ENOUGH_REPLICAS
    assert hw_after == hw_before == 1 and size_after == size_before
