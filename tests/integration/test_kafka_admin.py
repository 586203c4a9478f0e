"""Goal: unmodified Kafka admin clients (kafka-python, confluent-kafka,
aiokafka) administer topics and configs on a real three-node cluster
through any broker, and each user error reaches each client as Kafka's
exception for it and changes nothing."""

from __future__ import annotations

import pytest

from tests.integration.conftest import wait_for
from tests.integration.kafka_clients import confluent_metadata, in_thread

pytestmark = pytest.mark.integration


async def start_cluster(cluster_factory):
    cluster = await cluster_factory(3, kafka=True)
    cluster.start_all()
    await cluster.wait_leader(timeout_s=30)

    async def ready():
        md = await in_thread(confluent_metadata, cluster.kafka_address(1))
        return sorted(md.brokers) == [1, 2, 3]

    await wait_for(ready, timeout_s=30, what="three unfenced brokers in Metadata")
    return cluster


def topic_names(bootstrap: str) -> set[str]:
    return set(confluent_metadata(bootstrap).topics)


def kafka_python_session(bootstrap: str) -> None:
    from kafka import KafkaConsumer
    from kafka import errors as E
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics([NewTopic("kp", 3, 2, topic_configs={"retention.ms": "60000"})])
        for bad, exc in ((NewTopic("kp", 1, 1), E.TopicAlreadyExistsError),
                         (NewTopic("bad name", 1, 1), E.InvalidTopicError),
                         (NewTopic("kp-rf", 1, 4), E.InvalidReplicationFactorError),
                         (NewTopic("kp-cfg", 1, 1, topic_configs={"retention.ms": "soon"}), E.InvalidConfigurationError)):
            with pytest.raises(exc):
                admin.create_topics([bad])
        (desc,) = admin.describe_topics(["kp"])
        assert desc["error_code"] == 0 and len(desc["partitions"]) == 3
        assert all(len(p["replica_nodes"]) == 2 for p in desc["partitions"])
        admin.create_partitions({"kp": NewPartitions(5)})
        with pytest.raises(E.InvalidPartitionsError):
            admin.create_partitions({"kp": NewPartitions(2)})
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "kp", configs={"retention.ms": "120000"})])
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp")])
        assert configs["topic"]["kp"]["retention.ms"]["value"] == "120000"
        bad_alter = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "kp",
                                                        configs={"retention.ms": "x"})])
        assert "InvalidConfigurationError" in str(bad_alter["topic"]["kp"])
        cluster = admin.describe_cluster()
        assert sorted(b["broker_id"] for b in cluster["brokers"]) == [1, 2, 3]
        assert cluster["controller_id"] in (1, 2, 3)
        consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        try:
            assert "kp" in consumer.topics() and consumer.partitions_for_topic("kp") == {0, 1, 2, 3, 4}
        finally:
            consumer.close()
        admin.delete_topics(["kp"])
        with pytest.raises(E.UnknownTopicOrPartitionError):
            admin.delete_topics(["kp"])
    finally:
        admin.close()


def confluent_session(bootstrap: str) -> None:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        NewPartitions,
        NewTopic,
        ResourceType,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})

    def error_of(future):
        with pytest.raises(KafkaException) as info:
            future.result(timeout=15)
        return info.value.args[0].code()

    admin.create_topics([NewTopic("ck", 2, 3, config={"retention.ms": "1000"})])["ck"].result(timeout=15)
    fs = admin.create_topics([NewTopic("ck", 1, 1), NewTopic("bad/name", 1, 1), NewTopic("ck-rf", 1, 9),
                              NewTopic("ck-cfg", 1, 1, config={"min.insync.replicas": "0"})])
    assert error_of(fs["ck"]) == KafkaError.TOPIC_ALREADY_EXISTS
    assert error_of(fs["bad/name"]) == KafkaError.TOPIC_EXCEPTION
    assert error_of(fs["ck-rf"]) == KafkaError.INVALID_REPLICATION_FACTOR
    assert error_of(fs["ck-cfg"]) == KafkaError.INVALID_CONFIG
    admin.create_partitions([NewPartitions("ck", 4)])["ck"].result(timeout=15)
    assert error_of(admin.create_partitions([NewPartitions("nope", 4)])["nope"]) == \
        KafkaError.UNKNOWN_TOPIC_OR_PART
    res = ConfigResource(ResourceType.TOPIC, "ck", incremental_configs=[
        ConfigEntry("retention.ms", "7777", incremental_operation=AlterConfigOpType.SET)])
    list(admin.incremental_alter_configs([res]).values())[0].result(timeout=15)
    bad = ConfigResource(ResourceType.TOPIC, "ck", incremental_configs=[
        ConfigEntry("retention.ms", "x", incremental_operation=AlterConfigOpType.SET)])
    assert error_of(list(admin.incremental_alter_configs([bad]).values())[0]) == KafkaError.INVALID_CONFIG
    (described,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, "ck")]).values()
    entries = described.result(timeout=15)
    assert entries["retention.ms"].value == "7777" and entries["segment.ms"].value == "604800000"
    cluster = admin.describe_cluster(request_timeout=15).result()
    assert sorted(n.id for n in cluster.nodes) == [1, 2, 3] and cluster.controller.id in (1, 2, 3)
    md = admin.list_topics(timeout=15)
    assert "ck" in md.topics and len(md.topics["ck"].partitions) == 4
    assert "ck-rf" not in md.topics and "ck-cfg" not in md.topics
    admin.delete_topics(["ck"], operation_timeout=15)["ck"].result(timeout=15)
    assert error_of(admin.delete_topics(["ck"], operation_timeout=15)["ck"]) == KafkaError.UNKNOWN_TOPIC_OR_PART


def aiokafka_session(bootstrap: str) -> None:
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def main():
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
        await admin.start()
        try:
            resp = await admin.create_topics([NewTopic("ak", 2, 2)])
            assert [e[1] for e in resp.topic_errors] == [0]
            resp = await admin.create_topics([NewTopic("ak", 2, 2), NewTopic("ak-rf", 1, 7), NewTopic("a k", 1, 1),
                                              NewTopic("ak-cfg", 1, 1, topic_configs={"segment.bytes": "1"})])
            # TOPIC_ALREADY_EXISTS, INVALID_REPLICATION_FACTOR, INVALID_TOPIC_EXCEPTION, INVALID_CONFIG
            assert [e[1] for e in resp.topic_errors] == [36, 38, 17, 40]
            (desc,) = await admin.describe_topics(["ak"])
            assert desc["error_code"] == 0 and len(desc["partitions"]) == 2
            resp = await admin.delete_topics(["ak"])
            assert [e[1] for e in resp.topic_error_codes] == [0]
            resp = await admin.delete_topics(["ak"])
            assert [e[1] for e in resp.topic_error_codes] == [3]  # UNKNOWN_TOPIC_OR_PARTITION
        finally:
            await admin.close()

    asyncio.run(main())


async def test_admin_clients_through_any_broker(cluster_factory):
    cluster = await start_cluster(cluster_factory)
    # Each client talks to a different broker first (admin requests reach
    # the controller from any of them).
    await in_thread(kafka_python_session, cluster.kafka_address(1))
    await in_thread(confluent_session, cluster.kafka_address(2))
    await in_thread(aiokafka_session, cluster.kafka_address(3))
    # Every rejected request changed nothing; the accepted ones were undone.
    assert await in_thread(topic_names, cluster.kafka_bootstrap) == set()
