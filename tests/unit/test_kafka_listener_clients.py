"""Goal: unmodified Kafka clients negotiate versions with the listener and
read cluster metadata from it (one in-process listener over a hand-built
image; the three-node process tests live in tests/integration)."""

from __future__ import annotations

import trio

from rafka.broker.kafka.listener import KafkaListener
from tests.unit.kafka_support.fake_broker import FakeBroker, sample_image


async def start(nursery) -> tuple[FakeBroker, int]:
    broker = FakeBroker(image=None)
    listener = KafkaListener(broker, "127.0.0.1", 0)
    port = await nursery.start(listener.run)
    broker.image = sample_image(port, one_port=True)
    return broker, port


async def test_kafka_python_lists_topics_and_partitions(nursery):
    from kafka import KafkaConsumer

    _, port = await start(nursery)

    def client():
        consumer = KafkaConsumer(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=5000)
        try:
            return consumer.topics(), consumer.partitions_for_topic("orders")
        finally:
            consumer.close()

    topics, partitions = await trio.to_thread.run_sync(client)
    assert topics == {"orders"}
    assert partitions == {0, 1}


async def test_confluent_kafka_list_topics(nursery):
    from confluent_kafka.admin import AdminClient

    _, port = await start(nursery)

    def client():
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
        md = admin.list_topics(timeout=10)
        return md.cluster_id, md.controller_id, {t: sorted(m.partitions) for t, m in md.topics.items()}

    cluster_id, controller_id, topics = await trio.to_thread.run_sync(client)
    assert cluster_id == "test-cluster" and controller_id == 2
    assert topics == {"orders": [0, 1]}


async def test_aiokafka_is_served_in_order(nursery):
    """aiokafka runs on asyncio; it runs in a worker thread with its own loop."""
    _, port = await start(nursery)

    def client():
        import asyncio

        from aiokafka.admin import AIOKafkaAdminClient

        async def main():
            admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=5000)
            await admin.start()
            try:
                return await admin.list_topics()
            finally:
                await admin.close()

        return asyncio.run(main())

    assert set(await trio.to_thread.run_sync(client)) == {"orders"}
