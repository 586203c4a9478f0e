"""Goal: cleanup.policy=compact on a real three-node cluster: keyed records
overwritten 30 times end up, in every replica's segment files and in what a
confluent-kafka consumer reads from the beginning, as one record per key
(the latest value), a key deleted by a tombstone disappears once
delete.retention.ms (0 here) has passed, offsets are never renumbered (the
log end stays, offsets read are increasing and each is the offset the
record was produced at), and the topic config is accepted and described;
__consumer_offsets is created compacted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from rafka.broker.testing.local_cluster import LocalCluster
from rafka.log.compaction import iter_batches
from rafka.log.records import decode_batch

pytestmark = pytest.mark.integration

TOPIC = "compacted"
ROUNDS = 30
KEYS = 5
FILLERS = 30
WAIT_S = 90


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = LocalCluster(tmp_path_factory.mktemp("compaction"), 3, replica={"cleaner_interval_ms": 200})
    try:
        c.start()
        yield c
    finally:
        c.close()


def replica_records(cluster, i: int) -> list[tuple[int, bytes | None, bytes | None]]:
    dirs = [d for d in Path(cluster.node_dir(i)).rglob(f"{TOPIC}-0") if d.is_dir()]
    assert len(dirs) == 1, dirs
    out = []
    for seg in sorted(dirs[0].glob("*.log")):
        data = seg.read_bytes()
        for pos, _h in iter_batches(data):
            out += [(r.offset, r.key, r.value) for r in decode_batch(data, pos)[1]]
    return out


def consume_all(cluster, end: int) -> list[tuple[int, bytes | None, bytes | None]]:
    c = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "reader",
                  "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
        out = []
        deadline = time.monotonic() + WAIT_S
        while not out or out[-1][0] < end - 1:
            assert time.monotonic() < deadline, f"read up to {out[-1:]} of {end}"
            msg = c.poll(0.5)
            if msg is not None and msg.error() is None:
                out.append((msg.offset(), msg.key(), msg.value()))
        return out
    finally:
        c.close()


def test_compacted_topic(cluster):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    configs = {"cleanup.policy": "compact", "segment.bytes": "1024", "delete.retention.ms": "0",
               "min.cleanable.dirty.ratio": "0.01"}
    admin.create_topics([NewTopic(TOPIC, 1, 3, config=configs)])[TOPIC].result(WAIT_S)
    described = admin.describe_configs([ConfigResource("topic", TOPIC)])
    values = {k: v.value for k, v in list(described.values())[0].result(WAIT_S).items()}
    assert values["cleanup.policy"] == "compact" and values["min.cleanable.dirty.ratio"] == "0.01"

    p = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all", "linger.ms": 0})
    produced: dict[int, tuple[bytes, bytes | None]] = {}

    def done(err, msg):
        assert err is None, err
        produced[msg.offset()] = (msg.key(), msg.value())

    for r in range(ROUNDS):
        for k in range(KEYS):
            p.produce(TOPIC, key=b"k%d" % k, value=b"r%d-" % r + b"x" * 40, partition=0, on_delivery=done)
        p.flush(WAIT_S)
    p.produce(TOPIC, key=b"k4", value=None, partition=0, on_delivery=done)  # tombstone
    for i in range(FILLERS):
        p.produce(TOPIC, key=b"f%d" % i, value=b"y" * 40, partition=0, on_delivery=done)
        p.flush(WAIT_S)
    end = ROUNDS * KEYS + 1 + FILLERS
    assert sorted(produced) == list(range(end))

    def compacted(records) -> bool:
        keys = [k for _, k, _ in records if k is not None and k.startswith(b"k")]
        return len(keys) == len(set(keys)) and b"k4" not in keys

    deadline = time.monotonic() + WAIT_S
    while not all(compacted(replica_records(cluster, i)) for i in (1, 2, 3)):
        assert time.monotonic() < deadline, "replicas not compacted: " + str(
            [len(replica_records(cluster, i)) for i in (1, 2, 3)])
        time.sleep(0.2)  # wait-ok: polling the files, bounded by the deadline

    got = consume_all(cluster, end)
    assert compacted(got)
    offsets = [o for o, _, _ in got]
    assert offsets == sorted(set(offsets)) and offsets[-1] == end - 1
    for o, k, v in got:
        assert produced[o] == (k, v), f"offset {o} holds {(k, v)}, produced {produced[o]}"
    latest = {k: v for _, k, v in got}
    assert all(latest[b"k%d" % k].startswith(b"r%d-" % (ROUNDS - 1)) for k in range(KEYS - 1))
    assert all(b"f%d" % i in latest for i in range(FILLERS))
    assert len(got) < end / 2

    offsets_topic = admin.describe_configs([ConfigResource("topic", "__consumer_offsets")])
    c = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "g-compact"})
    try:
        c.commit(offsets=[TopicPartition(TOPIC, 0, 3)], asynchronous=False)  # creates __consumer_offsets
    finally:
        c.close()
    offsets_topic = admin.describe_configs([ConfigResource("topic", "__consumer_offsets")])
    values = {k: v.value for k, v in list(offsets_topic.values())[0].result(WAIT_S).items()}
    assert values["cleanup.policy"] == "compact"
