"""The fault-injecting proxy, against an in-process echo server on 127.0.0.1."""

from __future__ import annotations

import pytest
import trio

from tests.jepsen.proxy import LinkMode, LinkProxy

DEADLINE_S = 5


async def echo_server(task_status=trio.TASK_STATUS_IGNORED):
    async def handler(stream):
        try:
            while True:
                data = await stream.receive_some(4096)
                if not data:
                    return
                await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        task_status.started(port)
        await trio.serve_listeners(handler, listeners, handler_nursery=nursery)


async def start_proxy(nursery):
    port = await nursery.start(echo_server)
    proxy = LinkProxy("a->b", "127.0.0.1", port)
    await nursery.start(proxy.serve)
    return proxy


async def roundtrip(stream, payload: bytes) -> bytes:
    await stream.send_all(payload)
    got = b""
    while len(got) < len(payload):
        chunk = await stream.receive_some(4096)
        if not chunk:
            break
        got += chunk
    return got


async def test_pass_forwards_both_ways():
    """Goal: in PASS mode bytes reach the target and the replies come back."""
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            proxy = await start_proxy(nursery)
            stream = await trio.open_tcp_stream("127.0.0.1", proxy.port)
            assert await roundtrip(stream, b"hello") == b"hello"
            assert proxy.bytes_forwarded >= 5  # at least the request went through
            await stream.aclose()
            nursery.cancel_scope.cancel()


async def test_drop_cuts_existing_and_refuses_new():
    """Goal: DROP closes a live connection and closes new ones at once; heal
    restores service."""
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            proxy = await start_proxy(nursery)
            stream = await trio.open_tcp_stream("127.0.0.1", proxy.port)
            assert await roundtrip(stream, b"x") == b"x"
            proxy.set_mode(LinkMode.DROP)
            # the live connection ends: EOF (or a reset) on the next read
            with pytest.raises((trio.BrokenResourceError, EOFError)):
                data = await stream.receive_some(10)
                if not data:
                    raise EOFError
            fresh = await trio.open_tcp_stream("127.0.0.1", proxy.port)
            with pytest.raises((trio.BrokenResourceError, EOFError)):
                await fresh.send_all(b"y")
                data = await fresh.receive_some(10)
                if not data:
                    raise EOFError
            proxy.heal()
            again = await trio.open_tcp_stream("127.0.0.1", proxy.port)
            assert await roundtrip(again, b"z") == b"z"
            nursery.cancel_scope.cancel()


async def test_blackhole_swallows_bytes():
    """Goal: BLACKHOLE accepts and keeps the connection open but delivers
    nothing, so the sender only sees silence (a timeout)."""
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            proxy = await start_proxy(nursery)
            proxy.set_mode(LinkMode.BLACKHOLE)
            stream = await trio.open_tcp_stream("127.0.0.1", proxy.port)
            await stream.send_all(b"lost")
            with trio.move_on_after(0.3) as scope:
                await stream.receive_some(10)
            assert scope.cancelled_caught, "a black-holed link must not answer"
            proxy.heal()
            fresh = await trio.open_tcp_stream("127.0.0.1", proxy.port)
            assert await roundtrip(fresh, b"back") == b"back"
            nursery.cancel_scope.cancel()


async def test_delay_holds_bytes_back(autojump_clock):
    """Goal: with delay_ms set, a reply arrives only after the delay (checked
    on trio's virtual clock, so no wall-time assertion)."""
    # autojump_clock drives virtual time; sockets are real but the delay line
    # sleeps on trio's clock, so the jump happens once everything is idle.
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            proxy = await start_proxy(nursery)
            proxy.set_delay(10_000)
            stream = await trio.open_tcp_stream("127.0.0.1", proxy.port)
            start = trio.current_time()
            assert await roundtrip(stream, b"slow") == b"slow"
            # one delay each way through the same proxy
            assert trio.current_time() - start >= 20.0
            nursery.cancel_scope.cancel()


def test_negative_delay_rejected():
    """Goal: a bad delay is refused with a typed error."""
    proxy = LinkProxy("l", "127.0.0.1", 1)
    with pytest.raises(ValueError):
        proxy.set_delay(-1)


async def test_half_close_still_delivers_the_reply():
    """Goal: a client that sends and half-closes (EOF) still gets the
    server's reply through the proxy, then EOF."""
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            proxy = await start_proxy(nursery)
            stream = await trio.open_tcp_stream("127.0.0.1", proxy.port)
            await stream.send_all(b"bye")
            await stream.send_eof()
            got = b""
            while True:
                chunk = await stream.receive_some(100)
                if not chunk:
                    break
                got += chunk
            assert got == b"bye"
            nursery.cancel_scope.cancel()
