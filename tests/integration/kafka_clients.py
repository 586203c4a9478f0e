"""Blocking helpers around real Kafka clients, run in worker threads from
trio tests (each client is created, used and closed inside one call)."""

from __future__ import annotations

import trio


async def in_thread(fn, *args):
    return await trio.to_thread.run_sync(fn, *args)


def confluent_metadata(bootstrap: str, timeout_s: float = 10.0):
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    return admin.list_topics(timeout=timeout_s)


def kafka_python_topics(bootstrap: str, topic: str | None = None):
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        topics = consumer.topics()
        return topics, (consumer.partitions_for_topic(topic) if topic else None)
    finally:
        consumer.close()


def aiokafka_topics(bootstrap: str):
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def main():
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        await admin.start()
        try:
            return await admin.list_topics()
        finally:
            await admin.close()

    return asyncio.run(main())


def confluent_producer_metadata(bootstrap: str, topic: str, timeout_s: float = 10.0):
    """A producer's Metadata for one topic (librdkafka producers allow
    topic auto-creation by default)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    try:
        return producer.list_topics(topic=topic, timeout=timeout_s)
    finally:
        producer.flush(1)
