"""Goal: unmodified Kafka clients produce to and read back from a real
three-node cluster through Produce/Fetch/ListOffsets/InitProducerId: for
kafka-python (default KafkaProducer), confluent-kafka (default Producer,
and each compression codec) and aiokafka, 10,000 keyed records to a
6-partition, replication-factor-3 topic come back by assign/seek with none
lost, none duplicated, each key in the partition its partitioner chose and
each partition in produce order."""

from __future__ import annotations

import pytest

from rafka.broker.testing.local_cluster import LocalCluster
from tests.integration import data_clients as dc

pytestmark = pytest.mark.integration

RECORDS = 10_000
PARTITIONS = 6


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = LocalCluster(tmp_path_factory.mktemp("data-path"), 3)
    try:
        c.start()
        yield c
    finally:
        c.close()


def create_topic(bootstrap: str, name: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    admin.create_topics([NewTopic(name, PARTITIONS, 3)])[name].result(30)


def roundtrip(cluster, topic: str, produce, read, **extra) -> None:
    create_topic(cluster.bootstrap_servers, topic)
    acked = produce(cluster.bootstrap_servers, topic, RECORDS, **extra)
    got = read(cluster.bootstrap_servers, topic, PARTITIONS, RECORDS)
    dc.check_read_back(acked, got, RECORDS)
    assert len({p for p, _o in acked.values()}) == PARTITIONS  # keys spread over every partition


def test_kafka_python_default_producer(cluster):
    roundtrip(cluster, "kp", dc.produce_kafka_python, dc.read_kafka_python)


def test_confluent_default_producer(cluster):
    roundtrip(cluster, "ck", dc.produce_confluent, dc.read_confluent)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_confluent_compressed(cluster, codec):
    roundtrip(cluster, f"ck-{codec}", dc.produce_confluent, dc.read_confluent, **{"compression.type": codec})


def test_confluent_idempotent_producer(cluster):
    roundtrip(cluster, "ck-idem", dc.produce_confluent, dc.read_confluent, **{"enable.idempotence": True})


def test_aiokafka_default_producer(cluster):
    roundtrip(cluster, "aio", dc.produce_aiokafka, dc.read_aiokafka)
