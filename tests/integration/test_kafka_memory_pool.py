"""Goal: on a real node, the Kafka listener's request memory pool
(`requests_queued_bytes_max`, Kafka's queued.max.request.bytes) is shared
by its connections: with the pool held by one connection's long-polling
Fetch, another connection's request waits (its connection stays open) and
is served only after the Fetch is answered; a request larger than the
whole pool closes its connection and the node keeps serving."""

from __future__ import annotations

import datetime
import io
import select
import socket
import struct

import pytest
import trio
from kio.schema.create_topics.v7.request import CreatableTopic, CreateTopicsRequest
from kio.schema.fetch.v12.request import FetchPartition, FetchRequest, FetchTopic
from kio.schema.metadata.v12.request import MetadataRequest
from kio.serial import entity_writer

from rafka.broker.kafka.header import RequestHeader, encode_request_header
from rafka.broker.kafka.schemas import request_header_version
from tests.integration.conftest import wait_for
from tests.integration.raw_kafka import RawKafka

pytestmark = pytest.mark.integration

TOPIC = "pool"
FETCH_WAIT_MS = 2000
METADATA = MetadataRequest(topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)
LONG_FETCH = FetchRequest(max_wait=datetime.timedelta(milliseconds=FETCH_WAIT_MS), min_bytes=1, topics=(
    FetchTopic(topic=TOPIC, partitions=(FetchPartition(partition=0, fetch_offset=0,
                                                        partition_max_bytes=1 << 20),)),),
    forgotten_topics_data=(), rack_id="r" * 200)  # a long rack id: the biggest request of the test


def request_bytes(entity, correlation_id: int = 1) -> int:
    """What the pool counts for `entity` sent by RawKafka: the frame
    without its size prefix."""
    key, version = int(entity.__api_key__), int(entity.__version__)
    body = io.BytesIO()
    entity_writer(type(entity))(body, entity)
    header = RequestHeader(key, version, correlation_id, "raw-test", request_header_version(key, version))
    return len(encode_request_header(header)) + len(body.getvalue())


# The pool holds the long Fetch or a Metadata request, never both.
POOL_BYTES = request_bytes(LONG_FETCH) + request_bytes(METADATA) - 1


async def start_node(cluster_factory):
    cluster = await cluster_factory(1, kafka=True)
    with open(cluster.config_path(1), "a") as f:
        f.write(f"\n[kafka]\nrequests_queued_bytes_max = {POOL_BYTES}\n")
    cluster.start_all()
    await cluster.wait_leader(timeout_s=30)
    address = cluster.kafka_address(1)

    def ready():
        with RawKafka(address) as raw:
            if [b.node_id for b in raw.call(METADATA).brokers] != [1]:
                return False
            resp = raw.call(CreateTopicsRequest(topics=(CreatableTopic(
                name=TOPIC, num_partitions=1, replication_factor=1, assignments=(), configs=()),),
                timeout=datetime.timedelta(seconds=10), validate_only=False))
            assert resp.topics[0].error_code in (0, 36), resp  # created, or TOPIC_ALREADY_EXISTS
            quick = FetchRequest(max_wait=datetime.timedelta(0), min_bytes=0, topics=LONG_FETCH.topics,
                                 forgotten_topics_data=())
            return raw.call(quick).responses[0].partitions[0].error_code == 0

    async def fetch_served():
        return await trio.to_thread.run_sync(ready)

    await wait_for(fetch_served, timeout_s=30, what=f"{TOPIC} created and served by its leader")
    return cluster, address


async def test_a_full_pool_makes_another_connection_wait_until_the_holder_is_answered(cluster_factory):
    cluster, address = await start_node(cluster_factory)
    with RawKafka(address) as holder, RawKafka(address) as waiter:
        holder.call(METADATA)  # answered (and its encoded answer cached) before the pair below
        # One write: the Metadata is answered from the cache by the reader,
        # which has reserved the Fetch's bytes before writing that answer.
        md_id = holder.correlation_id + 1
        fetch_id = md_id + 1
        frames = b""
        for entity, cid in ((METADATA, md_id), (LONG_FETCH, fetch_id)):
            key, version = int(entity.__api_key__), int(entity.__version__)
            body = io.BytesIO()
            entity_writer(type(entity))(body, entity)
            payload = encode_request_header(RequestHeader(key, version, cid, "raw-test",
                                                          request_header_version(key, version))) + body.getvalue()
            frames += struct.pack(">i", len(payload)) + payload
        holder.correlation_id = fetch_id
        holder.sock.sendall(frames)
        assert holder.receive(3, 12)[0] == md_id  # the Fetch now holds the pool, long-polling

        def wait_then_look() -> bool:
            resp = waiter.call(METADATA)
            assert [t.name for t in resp.topics] == [TOPIC]
            # The node releases the Fetch's bytes only once its answer is
            # written (loopback: already in our socket), so it must be here.
            return bool(select.select([holder.sock], [], [], 0)[0])

        assert await trio.to_thread.run_sync(wait_then_look), "served before the Fetch holding the pool"
        cid, resp = holder.receive(1, 12)
        assert cid == fetch_id and resp.responses[0].partitions[0].error_code == 0
        # Both connections are still open and served.
        assert holder.call(METADATA).brokers[0].node_id == 1
        assert waiter.call(METADATA).brokers[0].node_id == 1
    assert cluster.alive(1)


async def test_a_request_larger_than_the_pool_closes_only_its_connection(cluster_factory):
    cluster, address = await start_node(cluster_factory)
    with RawKafka(address) as raw:
        raw.sock.sendall(struct.pack(">i", POOL_BYTES + 1) + b"\x00\x03\x00\x0c")  # only its size is needed

        def closed() -> bool:
            try:
                return raw.sock.recv(1) == b""
            except (ConnectionResetError, socket.timeout):
                return False

        assert await trio.to_thread.run_sync(closed)
    with RawKafka(address) as other:
        assert other.call(METADATA).brokers[0].node_id == 1

    async def logged():
        return "request larger than requests_queued_bytes_max" in cluster.node_log(1)

    await wait_for(logged, timeout_s=10, what="the refusal's log line")
