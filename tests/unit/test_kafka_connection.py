"""Goal: a connection answers pipelined requests in request order, bounds
what it buffers, closes idle connections, and closes only itself — with
one log line — on anything malformed; the listener keeps serving others."""

from __future__ import annotations

import functools
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


async def test_pipelined_cached_answers_keep_request_order(nursery):
    """Metadata answered from the listener's answer cache by the reader,
    ApiVersions by the responder, interleaved: every answer in order."""
    from rafka.broker.kafka.answer_cache import AnswerCache

    broker = FakeBroker()
    client, server = trio.testing.memory_stream_pair()
    stats = ConnectionStats()
    nursery.start_soon(functools.partial(serve_connection, server, broker, broker.config, stats, kafka_log,
                                         cache=AnswerCache(1 << 20)))
    reader = FrameReader(client)
    kinds = [(18, 3, API_VERSIONS, 0) if i % 3 == 2 else (3, 12, METADATA, 1) for i in range(60)]
    for round_ in range(2):  # the first round fills the cache
        await client.send_all(b"".join(request_frame(k, v, body, correlation_id=round_ * 100 + i)
                                       for i, (k, v, body, _) in enumerate(kinds)))
        for i, (key, version, _, hv) in enumerate(kinds):
            corr, body = parse_response(key, version, await reader.read(), hv)
            assert corr == round_ * 100 + i
            assert key == 18 or [t.name for t in body.topics] == ["orders"]
    assert stats.requests == 120 and stats.answered_now > 0


async def test_a_request_larger_than_the_memory_pool_closes_the_connection(nursery):
    small = request_frame(18, 3, API_VERSIONS)
    broker = FakeBroker(config=KafkaListenerConfig(requests_queued_bytes_max=len(small) - 4))
    client, stats, done = await start_connection(nursery, broker)
    big = request_frame(18, 3, API_VERSIONS, client_id="a-longer-client-id")
    await client.send_all(small + big)
    reader = FrameReader(client)
    await reader.read()  # the request before it is still answered
    await done.wait()
    assert stats.closed_too_large == 1 and await reader.closed()
    # Refused from its size prefix alone, before its body is read.
    client, stats, done = await start_connection(nursery, broker)
    await client.send_all(big[:6])
    await done.wait()
    assert stats.closed_too_large == 1


async def test_a_full_memory_pool_makes_the_next_request_wait_for_released_bytes(nursery):
    """Two connections share a pool that holds the first's request but not
    also the second's: the second is served only after the first is
    answered, and neither connection fails."""
    import rafka.broker.kafka.apis.api_versions as av
    from rafka.broker.kafka.memory_pool import RequestMemory

    first_frame = request_frame(18, 3, API_VERSIONS, correlation_id=1)
    second_frame = request_frame(3, 12, METADATA, correlation_id=2)
    memory = RequestMemory(len(first_frame) - 4 + len(second_frame) - 4 - 1)
    broker = FakeBroker()
    stats = ConnectionStats()
    gate = trio.Event()
    original = av.handle

    async def blocking(ctx, request):
        await gate.wait()
        return await original(ctx, request)

    streams = []
    for _ in range(2):
        client, server = trio.testing.memory_stream_pair()
        nursery.start_soon(functools.partial(serve_connection, server, broker, broker.config, stats, kafka_log,
                                             memory=memory))
        streams.append(client)
    order: list[int] = []

    async def ask(stream, frame, key, version, hv):
        await stream.send_all(frame)
        corr, _ = parse_response(key, version, await FrameReader(stream).read(), hv)
        order.append(corr)

    av.handle = blocking
    try:
        async with trio.open_nursery() as clients:
            clients.start_soon(ask, streams[0], first_frame, 18, 3, 0)
            await trio.testing.wait_all_tasks_blocked()
            assert memory.used_bytes == len(first_frame) - 4
            clients.start_soon(ask, streams[1], second_frame, 3, 12, 1)
            await trio.testing.wait_all_tasks_blocked()
            assert order == [] and memory.waiting == 1 and stats.memory_waits == 1
            gate.set()
    finally:
        av.handle = original
    assert order == [1, 2]
    assert stats.closed_malformed == stats.closed_too_large == stats.handler_failures == 0


async def _send_sliced(stream, data: bytes, slice_bytes: int) -> None:
    for i in range(0, len(data), slice_bytes):
        await stream.send_all(data[i:i + slice_bytes])
        await trio.sleep(0)  # wait-ok: one scheduler turn per slice


async def test_large_requests_arriving_in_slices_are_answered_whole(nursery):
    """A request far larger than one read (read straight into its buffer on
    a socket, copied in from other streams) is answered like a small one,
    in order with the small requests around it."""
    from kio.schema.metadata.v12.request import MetadataRequestTopic

    names = [f"t{i:04d}-" + "x" * 240 for i in range(400)]  # ~100 KB of request
    big = M12(topics=tuple(MetadataRequestTopic(topic_id=None, name=n) for n in names),
              allow_auto_topic_creation=False, include_topic_authorized_operations=False)
    data = (request_frame(18, 3, API_VERSIONS, correlation_id=1) + request_frame(3, 12, big, correlation_id=2)
            + request_frame(18, 3, API_VERSIONS, correlation_id=3) + request_frame(3, 12, big, correlation_id=4))
    assert len(data) > 200_000
    listener = KafkaListener(FakeBroker(), "127.0.0.1", 0)
    port = await nursery.start(listener.run)
    on_socket = await trio.open_tcp_stream("127.0.0.1", port)
    in_memory, _, _ = await start_connection(nursery, FakeBroker())
    for client, slice_bytes in ((on_socket, 3000), (on_socket, 70_000), (in_memory, 3000)):
        await _send_sliced(client, data, slice_bytes)
        reader = FrameReader(client)
        for corr_expected in (1, 2, 3, 4):
            key, hv = (3, 1) if corr_expected % 2 == 0 else (18, 0)
            corr, body = parse_response(key, 12 if key == 3 else 3, await reader.read(), hv)
            assert corr == corr_expected
            if key == 3:
                assert sorted(t.name for t in body.topics) == names
