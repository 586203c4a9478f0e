"""Goal: on a real three-node cluster every node's Kafka listener answers
unmodified clients (confluent-kafka, kafka-python, aiokafka) with every
unfenced broker at its advertised Kafka address, a live controller, and
each topic's partitions with leaders, replicas and ISR — the same from
every node."""

from __future__ import annotations

import pytest

from tests.integration.conftest import wait_for
from tests.integration.kafka_clients import (
    aiokafka_topics,
    confluent_metadata,
    confluent_producer_metadata,
    in_thread,
    kafka_python_topics,
)

pytestmark = pytest.mark.integration


async def test_real_clients_read_cluster_metadata(cluster_factory):
    cluster = await cluster_factory(3, kafka=True)
    cluster.start_all()
    await cluster.wait_leader(timeout_s=30)

    async def all_brokers_listed():
        md = await in_thread(confluent_metadata, cluster.kafka_address(1))
        return md if sorted(md.brokers) == [1, 2, 3] else None

    await wait_for(all_brokers_listed, timeout_s=30, what="three unfenced brokers in Metadata")
    admin = cluster.admin()
    result = await admin.create_topic("orders", 3, 2)
    assert result.error_code == 0, result

    async def topic_everywhere():
        out = {}
        for i in cluster.ids:
            md = await in_thread(confluent_metadata, cluster.kafka_address(i))
            t = md.topics.get("orders")
            if t is None or len(t.partitions) != 3 or any(p.leader < 0 for p in t.partitions.values()):
                return None
            out[i] = md
        return out

    per_node = await wait_for(topic_everywhere, timeout_s=30, what="topic orders on every node")
    leader = (await cluster.wait_leader(timeout_s=10))["leader_id"]
    for i, md in per_node.items():
        assert {b.id: f"{b.host}:{b.port}" for b in md.brokers.values()} == {
            j: cluster.kafka_address(j) for j in cluster.ids}
        assert md.controller_id == leader
        parts = md.topics["orders"].partitions
        assert all(len(p.replicas) == 2 and p.leader in p.isrs and set(p.isrs) <= set(p.replicas)
                   for p in parts.values())
    topics, partitions = await in_thread(kafka_python_topics, cluster.kafka_bootstrap, "orders")
    assert "orders" in topics and partitions == {0, 1, 2}
    assert "orders" in await in_thread(aiokafka_topics, cluster.kafka_bootstrap)


async def test_metadata_auto_creates_topics_with_node_defaults(cluster_factory):
    """Goal: a producer's Metadata for an unknown topic creates it (node
    config auto_create_topics, default on) with the node's default
    partition count and replication factor (1 and 1)."""
    cluster = await cluster_factory(3, kafka=True)
    cluster.start_all()
    await cluster.wait_leader(timeout_s=30)

    async def ready():
        return sorted((await in_thread(confluent_metadata, cluster.kafka_address(1))).brokers) == [1, 2, 3]

    await wait_for(ready, timeout_s=30, what="three unfenced brokers")
    await in_thread(confluent_producer_metadata, cluster.kafka_address(2), "auto-made")

    async def created():
        t = (await in_thread(confluent_metadata, cluster.kafka_address(3))).topics.get("auto-made")
        return t is not None and len(t.partitions) == 1 and t.partitions[0].leader >= 1 \
            and len(t.partitions[0].replicas) == 1
    await wait_for(created, timeout_s=30, what="auto-made created with 1 partition, RF 1")
