"""RPC end to end on 127.0.0.1: a real server (port 0) and real connections.

Real sockets and trio's autojump clock mix poorly, so these use the real
clock with small deadlines, each test bounded by trio.fail_after."""

from __future__ import annotations

import msgpack
import pytest
import trio
from structlog.testing import capture_logs

from rafka.netproto.connection import open_connection
from rafka.netproto.envelope import ERROR, ONEWAY, REQUEST, RESPONSE, encode_message
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.handshake import Ack
from rafka.netproto.schema import to_wire

from .test_netproto_helpers import (
    CLUSTER,
    LIMITS,
    Echo,
    FakeVote,
    frame,
    raw_handshaken,
    read_all,
    running_server,
    warnings_in,
)


async def echo_handler(msg, ctx):
    if isinstance(msg, Echo):
        if msg.text == "boom":
            raise ValueError("handler bug")
        if msg.text == "refuse":
            raise RafkaError(ErrorCode.NOT_CONTROLLER, "not the controller")
        if msg.text == "none":
            return None
        return Echo(f"{msg.text}!{ctx.kind}")
    return None


def connect(port, **kw):
    kw.setdefault("cluster_id", CLUSTER)
    kw.setdefault("kind", "client")
    return open_connection("127.0.0.1", port, limits=LIMITS, **kw)


async def test_concurrent_calls_complete_out_of_order():
    """Goal: several calls share one connection; a slow request does not
    block a fast one, and each caller gets its own response (correlation)."""
    release = trio.Event()
    order: list[str] = []

    async def handler(msg, ctx):
        if msg.text.startswith("slow"):
            await release.wait()
        order.append(msg.text)
        if msg.text == "fast":
            release.set()
        return Echo(msg.text.upper())

    with trio.fail_after(10):
        async with running_server(handler) as port, connect(port) as conn:
            results = {}

            async def one(text):
                results[text] = (await conn.call(Echo(text), 5)).text

            async with trio.open_nursery() as nursery:
                for text in ("slow1", "slow2"):
                    nursery.start_soon(one, text)
                await trio.sleep(0)  # wait-ok: one scheduler turn: the slow calls start first
                nursery.start_soon(one, "fast")
    assert results == {"slow1": "SLOW1", "slow2": "SLOW2", "fast": "FAST"}
    assert order[0] == "fast"


async def test_deadline_expiry_then_late_response_is_dropped():
    """Goal: a call past its deadline raises REQUEST_TIMED_OUT; its late
    response is dropped and the next call gets its own response."""
    release = trio.Event()

    async def handler(msg, ctx):
        if msg.text == "stuck":
            await release.wait()
        return Echo(msg.text)

    with trio.fail_after(10):
        async with running_server(handler) as port, connect(port) as conn:
            with pytest.raises(RafkaError) as err:
                await conn.call(Echo("stuck"), 0.1)
            assert err.value.code == ErrorCode.REQUEST_TIMED_OUT
            release.set()
            assert (await conn.call(Echo("next"), 5)).text == "next"
            assert (await conn.call(Echo("again"), 5)).text == "again"


async def test_handler_errors_become_error_responses_and_server_lives():
    """Goal: a handler exception is UNKNOWN_SERVER_ERROR (logged once), a
    RafkaError keeps its code, None answers Ack, and the server (and the
    same connection) keeps serving."""
    with trio.fail_after(10):
        async with running_server(echo_handler) as port:
            async with connect(port) as conn:
                with capture_logs() as logs:
                    with pytest.raises(RafkaError) as err:
                        await conn.call(Echo("boom"), 5)
                assert err.value.code == ErrorCode.UNKNOWN_SERVER_ERROR
                assert "handler bug" in err.value.message
                assert [e["event"] for e in warnings_in(logs)] == ["netproto.handler_failed"]
                with pytest.raises(RafkaError) as err:
                    await conn.call(Echo("refuse"), 5)
                assert err.value.code == ErrorCode.NOT_CONTROLLER
                assert isinstance(await conn.call(Echo("none"), 5), Ack)
                assert (await conn.call(Echo("ok"), 5)).text == "ok!client"
            async with connect(port) as conn2:
                assert (await conn2.call(Echo("still"), 5)).text == "still!client"


async def test_handshake_refusals():
    """Goal: another cluster id or protocol version is refused with its
    Kafka code; a client may omit the cluster id and learns it; a peer may
    not omit it."""
    with trio.fail_after(10):
        async with running_server(echo_handler, node_id=7) as port:
            with pytest.raises(RafkaError) as err:
                async with connect(port, cluster_id="other"):
                    pass
            assert err.value.code == ErrorCode.INCONSISTENT_CLUSTER_ID
            with pytest.raises(RafkaError) as err:
                async with connect(port, cluster_id=None, kind="peer", node_id=2):
                    pass
            assert err.value.code == ErrorCode.INCONSISTENT_CLUSTER_ID
            stream, reply = await raw_handshaken(port, version=99)
            assert reply[0] == ERROR and reply[2] == ErrorCode.UNSUPPORTED_VERSION
            assert await read_all(stream) == []  # then closed
            async with connect(port, cluster_id=None) as conn:
                assert (conn.server_cluster_id, conn.server_node_id) == (CLUSTER, 7)
                assert (await conn.call(Echo("hi"), 5)).text == "hi!client"


async def test_listener_refuses_message_types_it_does_not_accept():
    """Goal: a listener never runs a message type it does not accept (say, a
    Raft message on a tool connection): a request
    gets INVALID_REQUEST (connection still usable), a one-way message closes
    the connection; the handler never sees either."""
    seen = []

    async def handler(msg, ctx):
        seen.append(msg)
        return Echo("ok")

    with trio.fail_after(10):
        async with running_server(handler, accepts={Echo}) as port:
            async with connect(port) as conn:
                with capture_logs() as logs:
                    with pytest.raises(RafkaError) as err:
                        await conn.call(FakeVote(term=3), 5)
                assert err.value.code == ErrorCode.INVALID_REQUEST
                assert len(warnings_in(logs)) == 1
                assert (await conn.call(Echo("x"), 5)).text == "ok"
                await conn.send_oneway(FakeVote(term=4))
                with trio.fail_after(5):
                    await conn.wait_closed()
                assert conn.close_reason.code == ErrorCode.INVALID_REQUEST
            assert all(isinstance(m, Echo) for m in seen)


async def test_invalid_request_body_is_refused_and_connection_survives():
    """Goal: a well-framed request with a mistyped field gets INVALID_REQUEST
    for its correlation id and the connection keeps working."""
    with trio.fail_after(10):
        async with running_server(echo_handler) as port:
            stream, reply = await raw_handshaken(port)
            assert reply[0] == RESPONSE
            await stream.send_all(frame([REQUEST, 5, Echo.TYPE, {"text": 12}]))
            await stream.send_all(encode_message(REQUEST, 6, Echo("fine"), LIMITS.frame_bytes_max))
            await stream.send_eof()
            replies = await read_all(stream)
            by_corr = {r[1]: r for r in replies}
            assert by_corr[5][0] == ERROR and by_corr[5][2] == ErrorCode.INVALID_REQUEST
            assert "Echo.text" in by_corr[5][3]
            assert by_corr[6][0] == RESPONSE and by_corr[6][3] == {"text": "fine!client"}


@pytest.mark.parametrize(
    "garbage, code",
    [
        (b"\x00\x00\x00\x05\xc1\xc1\xc1\xc1\xc1", ErrorCode.CORRUPT_MESSAGE),  # 0xc1 is never valid msgpack
        ((10**6).to_bytes(4, "big") + b"xx", ErrorCode.MESSAGE_TOO_LARGE),
        (frame({"not": "an envelope"}), ErrorCode.CORRUPT_MESSAGE),
    ],
)
async def test_bad_bytes_close_only_that_connection(garbage, code):
    """Goal: garbage msgpack, an oversized frame or a malformed envelope after
    the handshake gets an error frame then a close, one log line, while
    another client on the same server is unaffected."""
    with trio.fail_after(10):
        async with running_server(echo_handler) as port, connect(port) as good:
            stream, _ = await raw_handshaken(port)
            with capture_logs() as logs:
                await stream.send_all(garbage)
                replies = await read_all(stream)
            assert [(r[0], r[1], r[2]) for r in replies] == [(ERROR, 0, code)]
            assert len(warnings_in(logs)) == 1
            assert (await good.call(Echo("alive"), 5)).text == "alive!client"


async def test_random_bytes_before_handshake_are_refused():
    """Goal: a non-rafka client (random bytes instead of a handshake) is
    closed with one log line; the server keeps serving."""
    with trio.fail_after(10):
        async with running_server(echo_handler) as port:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            with capture_logs() as logs:
                await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                await read_all(stream)
            assert [e["event"] for e in warnings_in(logs)] == ["netproto.handshake_refused"]
            async with connect(port) as conn:
                assert (await conn.call(Echo("up"), 5)).text == "up!client"


async def test_slow_senders_are_cut_off():
    """Goal: a client that never handshakes, or that starts a frame and
    stalls, is closed after its deadline (one log line each)."""
    with trio.fail_after(10):
        async with running_server(echo_handler) as port:
            silent = await trio.open_tcp_stream("127.0.0.1", port)
            with capture_logs() as logs:
                assert await read_all(silent) == []
            assert [e["event"] for e in warnings_in(logs)] == ["netproto.handshake_timeout"]

            stalled, _ = await raw_handshaken(port)
            with capture_logs() as logs:
                await stalled.send_all(b"\x00\x00\x01\x00partial")
                assert await read_all(stalled) == []
            assert [e["event"] for e in warnings_in(logs)] == ["netproto.read_timeout"]


async def test_oneway_messages_are_handled_in_order():
    """Goal: one-way messages reach the handler in send order, marked
    one-way, and produce no response."""
    got: list[int] = []
    done = trio.Event()

    async def handler(msg, ctx):
        assert ctx.oneway and ctx.kind == "peer" and ctx.node_id == 3
        got.append(msg.term)
        if len(got) == 50:
            done.set()
        return Echo("ignored")

    with trio.fail_after(10):
        async with running_server(handler, kinds={"peer"}) as port:
            async with connect(port, kind="peer", node_id=3) as conn:
                for term in range(50):
                    await conn.send_oneway(FakeVote(term=term))
                await done.wait()
            with pytest.raises(RafkaError) as err:  # this listener takes peers only
                async with connect(port, kind="client"):
                    pass
            assert err.value.code == ErrorCode.INVALID_REQUEST
    assert got == list(range(50))


async def test_connection_loss_fails_pending_calls():
    """Goal: when the server goes away, waiting calls fail with
    NETWORK_EXCEPTION instead of hanging, and later calls fail at once."""
    async def handler(msg, ctx):
        await trio.sleep_forever()

    with trio.fail_after(10):
        async with trio.open_nursery() as outer:
            scope = trio.CancelScope()

            async def run_server(task_status):
                with scope:
                    async with running_server(handler) as port:
                        task_status.started(port)
                        await trio.sleep_forever()

            port = await outer.start(run_server)
            async with connect(port) as conn:
                async def cancel_soon():
                    await trio.sleep(0.05)  # wait-ok: the cancel the test stages mid-call
                    scope.cancel()
                outer.start_soon(cancel_soon)
                with pytest.raises(RafkaError) as err:
                    await conn.call(Echo("hang"), 5)
                assert err.value.code == ErrorCode.NETWORK_EXCEPTION
                with pytest.raises(RafkaError) as err:
                    await conn.call(Echo("after"), 5)
                assert err.value.code == ErrorCode.NETWORK_EXCEPTION


def test_wire_envelope_is_compact_array():
    """Goal: the documented envelope shape [kind, corr, type, body] holds."""
    payload = encode_message(ONEWAY, 0, Echo("x"), 1024)[4:]
    assert msgpack.unpackb(payload, raw=False) == [ONEWAY, 0, Echo.TYPE, to_wire(Echo("x"))]


async def test_connections_max_and_oversized_messages():
    """Goal: a connection beyond connections_max is closed while the first
    keeps working; a request or response over frame_bytes_max is refused
    with MESSAGE_TOO_LARGE and the connection stays usable; a value msgpack
    cannot carry is an InvalidMessage at the sender."""
    limits = LIMITS.__class__(**{**LIMITS.__dict__, "connections_max": 1})

    async def handler(msg, ctx):
        return Echo("y" * LIMITS.frame_bytes_max) if msg.text == "huge reply" else Echo(msg.text)

    with trio.fail_after(10):
        async with running_server(handler, limits=limits) as port, connect(port) as first:
            with pytest.raises(RafkaError) as err:
                async with connect(port):
                    pass
            assert err.value.code == ErrorCode.NETWORK_EXCEPTION
            with pytest.raises(RafkaError) as err:
                await first.call(Echo("x" * LIMITS.frame_bytes_max), 5)
            assert err.value.code == ErrorCode.MESSAGE_TOO_LARGE
            with pytest.raises(RafkaError) as err:
                await first.call(Echo("huge reply"), 5)
            assert err.value.code == ErrorCode.MESSAGE_TOO_LARGE
            with pytest.raises(RafkaError) as err:
                await first.call(FakeVote(term=2**70), 5)
            assert err.value.code == ErrorCode.INVALID_REQUEST
            assert (await first.call(Echo("fine"), 5)).text == "fine"


async def test_idle_connections_close_but_busy_ones_do_not():
    """Goal: a connection with no traffic is closed after idle_timeout_ms
    (one log line), while one waiting on a slow request is not."""
    limits = LIMITS.__class__(**{**LIMITS.__dict__, "idle_timeout_ms": 200})

    async def handler(msg, ctx):
        await trio.sleep(0.6)  # wait-ok: a handler slower than the idle timeout, by design
        return Echo(msg.text)

    with trio.fail_after(10):
        async with running_server(handler, limits=limits) as port:
            idle, _ = await raw_handshaken(port)
            with capture_logs() as logs:
                assert await read_all(idle) == []
            assert [(e["event"], e["which"]) for e in warnings_in(logs)] == [("netproto.read_timeout", "idle")]
            async with connect(port) as busy:
                assert (await busy.call(Echo("slow"), 5)).text == "slow"
