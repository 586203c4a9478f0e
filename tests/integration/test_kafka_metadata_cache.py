"""Goal: on a real three-node cluster, one connection polling Metadata
(answered from the listener's answer cache while the image stays the
same) sees a created topic, then a moved leader and the stopped broker
gone, exactly as a fresh answer would."""

from __future__ import annotations

import datetime

import pytest
import trio
from kio.schema.create_topics.v7.request import CreatableReplicaAssignment, CreatableTopic, CreateTopicsRequest
from kio.schema.metadata.v12.request import MetadataRequest

from tests.integration.conftest import wait_for
from tests.integration.raw_kafka import RawKafka

pytestmark = pytest.mark.integration

METADATA = MetadataRequest(topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)


async def test_a_polling_connection_sees_a_new_topic_and_a_moved_leader(cluster_factory):
    cluster = await cluster_factory(3, kafka=True)
    cluster.start_all()
    await cluster.wait_leader(timeout_s=30)
    with RawKafka(cluster.kafka_address(1)) as raw:
        async def poll(check, what: str):
            async def once():
                resp = await trio.to_thread.run_sync(raw.call, METADATA)
                return resp if check(resp) else None
            return await wait_for(once, timeout_s=30, what=what)

        await poll(lambda r: sorted(b.node_id for b in r.brokers) == [1, 2, 3], "three unfenced brokers")
        for _ in range(3):  # the same answer again and again (from the cache)
            assert (await trio.to_thread.run_sync(raw.call, METADATA)).topics == ()
        resp = await trio.to_thread.run_sync(raw.call, CreateTopicsRequest(topics=(CreatableTopic(
            name="moving", num_partitions=-1, replication_factor=-1,
            assignments=(CreatableReplicaAssignment(partition_index=0, broker_ids=(2, 3, 1)),), configs=()),),
            timeout=datetime.timedelta(seconds=10), validate_only=False))
        assert resp.topics[0].error_code == 0, resp

        def led_by(node: int):
            def check(r) -> bool:
                parts = [p for t in r.topics if t.name == "moving" for p in t.partitions]
                return len(parts) == 1 and parts[0].leader_id == node
            return check

        before = await poll(led_by(2), "topic moving listed, led by its preferred replica 2")
        epoch = before.topics[0].partitions[0].leader_epoch
        await cluster.stop(2)

        def moved(r) -> bool:
            parts = [p for t in r.topics if t.name == "moving" for p in t.partitions]
            return (sorted(b.node_id for b in r.brokers) == [1, 3] and len(parts) == 1
                    and parts[0].leader_id in (1, 3) and parts[0].leader_epoch > epoch
                    and 2 in parts[0].offline_replicas)

        await poll(moved, "leader moved off stopped broker 2, broker 2 gone")
