"""Goal: on a real node, a Produce to a topic that does not exist creates it
when the node's `[kafka] auto_create_topics` is on (first answer
LEADER_NOT_AVAILABLE, the retry is appended) and is refused with
UNKNOWN_TOPIC_OR_PARTITION, creating nothing, when it is off; an unmodified
confluent-kafka Producer to a fresh topic is delivered (on) or gets an
error (off)."""

from __future__ import annotations

import datetime
import time

import pytest
from kio.schema.metadata.v12.request import MetadataRequest, MetadataRequestTopic
from kio.schema.produce.v9.request import PartitionProduceData, ProduceRequest, TopicProduceData

from rafka.broker.testing.local_cluster import LocalCluster
from rafka.log.records import Record, build_batch
from tests.integration.raw_kafka import RawKafka

pytestmark = pytest.mark.integration

DEADLINE_S = 30.0
POLL_S = 0.05
UNKNOWN_TOPIC_OR_PARTITION = 3
LEADER_NOT_AVAILABLE = 5
NOT_LEADER_OR_FOLLOWER = 6


class Cluster(LocalCluster):
    """A LocalCluster whose nodes get a [kafka] table."""

    def __init__(self, root, kafka: dict) -> None:
        super().__init__(root, 1)
        self.kafka_table = kafka

    def _write_configs(self) -> None:
        super()._write_configs()
        for i in self.ids:
            path = self.node_dir(i) / "node.toml"
            lines = [f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in self.kafka_table.items()]
            path.write_text(path.read_text() + "\n[kafka]\n" + "\n".join(lines) + "\n")


def raw_produce(address: str, topic: str, value: bytes) -> tuple[int, int]:
    """(error code, base offset) of one acks=all Produce v9."""
    req = ProduceRequest(transactional_id=None, acks=-1, timeout=datetime.timedelta(seconds=10), topic_data=(
        TopicProduceData(name=topic, partition_data=(PartitionProduceData(
            index=0, records=build_batch([Record(b"k", value)], timestamp_ms=int(time.time() * 1000))),)),))
    with RawKafka(address) as raw:
        p = raw.call(req).responses[0].partition_responses[0]
    return int(p.error_code), int(p.base_offset)


def topic_exists(address: str, topic: str) -> bool:
    """Asked without auto-creation, so Metadata itself never creates it."""
    with RawKafka(address) as raw:
        t = raw.call(MetadataRequest(topics=(MetadataRequestTopic(name=topic, topic_id=None),),
                                     allow_auto_topic_creation=False,
                                     include_topic_authorized_operations=False)).topics[0]
    return t.error_code != UNKNOWN_TOPIC_OR_PARTITION


def confluent_produce(bootstrap: str, topic: str, timeout_s: float) -> list:
    """Delivery reports ([(error, offset)]) of one record from a default Producer."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "log_level": 2, "message.timeout.ms": int(timeout_s * 1000)})
    reports = []
    p.produce(topic, key=b"k", value=b"v", on_delivery=lambda err, msg: reports.append((err, msg.offset())))
    p.flush(timeout_s + 10)
    return reports


def test_produce_auto_creates_unknown_topics_when_enabled(tmp_path):
    c = Cluster(tmp_path, {"auto_create_topics": True})
    try:
        c.start()
        address = c.kafka_address(1)
        assert not topic_exists(address, "raw-fresh")
        code, _ = raw_produce(address, "raw-fresh", b"first")
        assert code in (LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION), code
        assert topic_exists(address, "raw-fresh")  # created by the Produce
        deadline = time.monotonic() + DEADLINE_S
        while (got := raw_produce(address, "raw-fresh", b"retry"))[0] in (LEADER_NOT_AVAILABLE,
                                                                          NOT_LEADER_OR_FOLLOWER):
            assert time.monotonic() < deadline, got
            time.sleep(POLL_S)  # wait-ok: a client's retry backoff, bounded by the deadline
        assert got == (0, 0)
        [(err, offset)] = confluent_produce(c.bootstrap_servers, "client-fresh", 20)
        assert err is None and offset == 0
    finally:
        c.close()


def test_produce_to_unknown_topic_is_refused_when_disabled(tmp_path):
    c = Cluster(tmp_path, {"auto_create_topics": False})
    try:
        c.start()
        address = c.kafka_address(1)
        assert raw_produce(address, "raw-fresh", b"first")[0] == UNKNOWN_TOPIC_OR_PARTITION
        assert not topic_exists(address, "raw-fresh")
        [(err, _offset)] = confluent_produce(c.bootstrap_servers, "client-fresh", 3)
        assert err is not None
        assert not topic_exists(address, "client-fresh")
    finally:
        c.close()
