"""Shared helpers (no tests) for the netproto tests: messages, a server runner, raw
sockets that speak (or deliberately break) the protocol."""

from __future__ import annotations

import functools
from contextlib import asynccontextmanager
from dataclasses import dataclass

import msgpack
import trio

from rafka.netproto.envelope import REQUEST, decode_envelope, encode_message
from rafka.netproto.framing import FrameDecoder
from rafka.netproto.handshake import PROTOCOL_VERSION, Handshake
from rafka.netproto.limits import NetLimits
from rafka.netproto.schema import Message, register
from rafka.netproto.server import serve

CLUSTER = "cluster-a"
LIMITS = NetLimits(
    handshake_timeout_ms=300,
    partial_frame_timeout_ms=300,
    connect_timeout_ms=1000,
    frame_bytes_max=64 * 1024,
    in_flight_max=8,
    backoff_initial_ms=10,
    backoff_max_ms=100,
    close_linger_ms=200,
)


@register
@dataclass(frozen=True)
class Echo(Message):
    TYPE = "test.netproto.Echo"
    text: str


@register
@dataclass(frozen=True)
class FakeVote(Message):
    """Stands in for a Raft message that a listener which does not accept it must refuse."""

    TYPE = "test.netproto.FakeVote"
    term: int


@asynccontextmanager
async def running_server(handler, *, port: int = 0, **kwargs):
    """Run ``serve`` on 127.0.0.1 and yield its port; stopped on exit."""
    kwargs.setdefault("limits", LIMITS)
    kwargs.setdefault("cluster_id", CLUSTER)
    kwargs.setdefault("node_id", 1)
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(functools.partial(serve, handler, host="127.0.0.1", port=port, **kwargs))
        yield bound
        nursery.cancel_scope.cancel()


def frame(obj) -> bytes:
    payload = msgpack.packb(obj, use_bin_type=True)
    return len(payload).to_bytes(4, "big") + payload


async def read_all(stream: trio.SocketStream, limit_s: float = 5.0) -> list:
    """Read envelopes until the server closes; returns them decoded.
    Fails the test if the server keeps the connection open past limit_s."""
    decoder = FrameDecoder(LIMITS.frame_bytes_max)
    out = []
    with trio.fail_after(limit_s):
        while True:
            try:
                data = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                return out
            if not data:
                return out
            out += [decode_envelope(p, LIMITS) for p in decoder.feed(data)]


async def raw_handshaken(port: int, cluster_id: str | None = CLUSTER, kind: str = "client",
                         version: int = PROTOCOL_VERSION, node_id: int | None = None) -> tuple[trio.SocketStream, list]:
    """A raw socket that sent a handshake; returns it and the first reply."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    hs = Handshake(version, cluster_id, kind, node_id)
    await stream.send_all(encode_message(REQUEST, 0, hs, LIMITS.frame_bytes_max))
    decoder = FrameDecoder(LIMITS.frame_bytes_max)
    with trio.fail_after(5):
        while True:
            data = await stream.receive_some(65536)
            assert data, "server closed before replying to the handshake"
            frames = decoder.feed(data)
            if frames:
                return stream, list(decode_envelope(frames[0], LIMITS))


def warnings_in(logs: list[dict]) -> list[dict]:
    return [e for e in logs if e.get("log_level") in ("warning", "error", "critical")]
