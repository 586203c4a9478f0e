"""Goal: CreatePartitions with manual replica assignments from unmodified
Kafka clients (kafka-python's NewPartitions(total_count, new_assignments),
confluent-kafka's NewPartitions(..., replica_assignment=...)) on a real
three-node cluster: the new partitions land on the asked brokers (Metadata
shows them); wrong counts, duplicates and unknown brokers give
INVALID_REPLICA_ASSIGNMENT and change nothing; validate_only changes
nothing."""

from __future__ import annotations

import pytest

from tests.integration.conftest import wait_for
from tests.integration.kafka_clients import confluent_metadata, in_thread
from tests.integration.test_kafka_admin import start_cluster

pytestmark = pytest.mark.integration


def replicas_of(bootstrap: str, topic: str) -> dict[int, list[int]] | None:
    t = confluent_metadata(bootstrap).topics.get(topic)
    if t is None or t.error is not None:
        return None
    return {p.id: list(p.replicas) for p in t.partitions.values()}


def kafka_python_assignments(bootstrap: str) -> None:
    from kafka import errors as E
    from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics([NewTopic("kp-manual", 1, 2)])
        for bad in ([[1, 2]],                 # 1 assignment for 2 new partitions
                    [[1, 2], [3, 3]],         # a broker twice
                    [[1, 2], [3, 9]],         # no broker 9
                    [[1, 2], [3]]):           # not the topic's replication factor
            with pytest.raises(E.InvalidReplicationAssignmentError):
                admin.create_partitions({"kp-manual": NewPartitions(3, bad)})
        admin.create_partitions({"kp-manual": NewPartitions(3, [[3, 1], [2, 3]])}, validate_only=True)
        assert len(replicas_of(bootstrap, "kp-manual")) == 1
        admin.create_partitions({"kp-manual": NewPartitions(3, [[3, 1], [2, 3]])})
    finally:
        admin.close()


def confluent_assignments(bootstrap: str) -> None:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic("ck-manual", 2, 3)])["ck-manual"].result(timeout=15)

    def error_of(future):
        with pytest.raises(KafkaException) as e:
            future.result(timeout=15)
        return e.value.args[0].code(), e.value.args[0].str()

    for bad, says in (([[1, 2, 3], [1, 2, 3]], "needs 1 replica assignment(s), got 2"),
                      ([[1, 1, 2]], "a broker is named twice"),
                      ([[1, 2, 7]], "no registered broker [7]")):
        code, message = error_of(admin.create_partitions(
            [NewPartitions("ck-manual", 3, replica_assignment=bad)])["ck-manual"])
        assert code == KafkaError.INVALID_REPLICA_ASSIGNMENT and says in message, message
    admin.create_partitions([NewPartitions("ck-manual", 3, replica_assignment=[[2, 3, 1]])],
                            validate_only=True)["ck-manual"].result(timeout=15)
    assert len(replicas_of(bootstrap, "ck-manual")) == 2
    admin.create_partitions([NewPartitions("ck-manual", 3, replica_assignment=[[2, 3, 1]])])[
        "ck-manual"].result(timeout=15)


async def test_create_partitions_with_replica_assignments(cluster_factory):
    cluster = await start_cluster(cluster_factory)
    # Each client through a different broker (forwarded to the controller).
    await in_thread(kafka_python_assignments, cluster.kafka_address(2))
    await in_thread(confluent_assignments, cluster.kafka_address(3))

    async def landed(topic, want):
        for i in cluster.ids:  # every broker's Metadata shows the asked replicas
            got = await in_thread(replicas_of, cluster.kafka_address(i), topic)
            if got is None or {p: got[p] for p in want if p in got} != want:
                return False
        return True

    await wait_for(lambda: landed("kp-manual", {1: [3, 1], 2: [2, 3]}), timeout_s=30,
                   what="kp-manual partitions 1-2 on the asked brokers")
    await wait_for(lambda: landed("ck-manual", {2: [2, 3, 1]}), timeout_s=30,
                   what="ck-manual partition 2 on the asked brokers")
    assert len(await in_thread(replicas_of, cluster.kafka_address(1), "kp-manual")) == 3
    assert len(await in_thread(replicas_of, cluster.kafka_address(1), "ck-manual")) == 3
