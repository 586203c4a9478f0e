"""Goal: a connection answers pipelined requests in request order, bounds
what it buffers, closes idle connections, and closes only itself — with
one log line — on anything malformed; the listener keeps serving others."""

from __future__ import annotations

import struct

import trio
import trio.testing
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v12.request import MetadataRequest as M12
from kio.schema.api_versions.v3.request import ApiVersionsRequest as AV3

from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.kafka.connection import ConnectionStats, serve_connection
from rafka.broker.kafka.listener import KafkaListener
from rafka.broker.kafka.listener import log as kafka_log
from tests.unit.kafka_support.fake_broker import FakeBroker, FrameReader, parse_response, request_frame

METADATA = M12(topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)
API_VERSIONS = AV3(client_software_name="t", client_software_version="1")


async def start_connection(nursery, broker, config=None):
    client, server = trio.testing.memory_stream_pair()
    stats = ConnectionStats()
    done = trio.Event()

    async def run():
        await serve_connection(server, broker, config or broker.config, stats, kafka_log)
        done.set()

    nursery.start_soon(run)
    return client, stats, done


async def test_pipelined_requests_are_answered_in_order(nursery):
    client, stats, _ = await start_connection(nursery, FakeBroker())
    frames = b"".join(request_frame(3 if i % 2 else 18, 12 if i % 2 else 3,
                                    METADATA if i % 2 else API_VERSIONS, correlation_id=i) for i in range(50))
    await client.send_all(frames)
    reader = FrameReader(client)
    for i in range(50):
        frame = await reader.read()
        key, version, hv = (3, 12, 1) if i % 2 else (18, 3, 0)
        corr, body = parse_response(key, version, frame, hv)
        assert corr == i and (key == 3 or body.error_code == ErrorCode.none)
    assert stats.requests == 50


async def test_oversized_frame_closes_the_connection(nursery):
    broker = FakeBroker(config=KafkaListenerConfig(socket_request_bytes_max=1000))
    client, stats, done = await start_connection(nursery, broker)
    await client.send_all(request_frame(3, 12, METADATA) + struct.pack(">i", 1001))
    reader = FrameReader(client)
    await reader.read()  # the request before it is still answered
    await done.wait()
    assert stats.closed_malformed == 1


async def test_malformed_body_closes_only_that_connection(nursery):
    broker = FakeBroker()
    bad, bad_stats, bad_done = await start_connection(nursery, broker)
    good, _, _ = await start_connection(nursery, broker)
    frame = request_frame(3, 12, METADATA)
    await bad.send_all(struct.pack(">i", 12) + frame[4:12] + b"\x00\x02\xff\xfe")  # client id not UTF-8
    await bad_done.wait()
    assert bad_stats.closed_malformed == 1
    await good.send_all(frame)
    assert parse_response(3, 12, await FrameReader(good).read(), 1)[0] == 1


async def test_idle_connection_is_closed(nursery, autojump_clock):
    broker = FakeBroker(config=KafkaListenerConfig(connections_idle_ms_max=5000))
    client, stats, done = await start_connection(nursery, broker)
    await client.send_all(request_frame(18, 3, API_VERSIONS))
    await FrameReader(client).read()
    start = trio.current_time()
    await done.wait()
    assert stats.closed_idle == 1 and trio.current_time() - start >= 5


async def test_in_flight_requests_are_bounded(nursery):
    """With the responder blocked, the reader queues at most
    requests_in_flight_max frames and then stops reading the socket."""
    gate = trio.Event()
    broker = FakeBroker(config=KafkaListenerConfig(requests_in_flight_max=4))

    async def slow_barrier_route(msg, timeout_s=None):
        await gate.wait()
        raise AssertionError("unreachable")

    client, server = trio.testing.lockstep_stream_pair()
    stats = ConnectionStats()
    nursery.start_soon(serve_connection, server, broker, broker.config, stats, kafka_log)
    # Make the first request block inside its handler.
    import rafka.broker.kafka.apis.api_versions as av

    original = av.handle

    async def blocking(ctx, request):
        await gate.wait()
        return await original(ctx, request)

    av.handle = blocking
    try:
        frame = request_frame(18, 3, API_VERSIONS)
        sent = 0
        with trio.move_on_after(1):
            for _ in range(20):
                await client.send_all(frame)
                sent += 1
        # 1 in the handler + 4 queued + 1 the reader holds while waiting to queue it.
        assert sent <= 1 + 4 + 1 + 1
        gate.set()
    finally:
        av.handle = original


async def test_listener_serves_real_sockets_and_survives_garbage(nursery):
    broker = FakeBroker()
    listener = KafkaListener(broker, "127.0.0.1", 0)
    port = await nursery.start(listener.run)
    bad = await trio.open_tcp_stream("127.0.0.1", port)
    await bad.send_all(b"\xff\xff\xff\xff garbage")
    assert await FrameReader(bad).closed()
    good = await trio.open_tcp_stream("127.0.0.1", port)
    await good.send_all(request_frame(18, 3, API_VERSIONS, correlation_id=3))
    corr, body = parse_response(18, 3, await FrameReader(good).read(), 0)
    assert corr == 3 and body.error_code == ErrorCode.none
    assert listener.stats.closed_malformed == 1
