"""The peer listener's connection events: a peer node whose last connection
is ended by the peer (EOF or reset) is reported gone; a connection the
server closes is not; tools are ignored. Real sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import struct

import trio

from rafka.broker.node.peer_connections import PeerConnections

from .test_netproto_helpers import raw_handshaken, running_server


async def no_handler(msg, ctx):
    return None


class Recorder(PeerConnections):
    """PeerConnections that also reports each close on a channel, so a test
    waits on the event rather than on time."""

    def __init__(self) -> None:
        super().__init__(node_id=1, on_gone=self._gone)
        self.gone_ids: list[int] = []
        self.send, self.closes = trio.open_memory_channel(100)
        self.open_send, self.opens = trio.open_memory_channel(100)

    def opened(self, ctx) -> None:
        super().opened(ctx)
        self.open_send.send_nowait((ctx.kind, ctx.node_id))

    def _gone(self, node_id: int) -> None:
        self.gone_ids.append(node_id)

    def closed(self, ctx, peer_gone: bool) -> None:
        super().closed(ctx, peer_gone)
        self.send.send_nowait((ctx.kind, ctx.node_id, peer_gone))


async def test_last_connection_ended_by_the_peer_reports_it_gone():
    """Goal: node 7 has two peer connections; the first ending says nothing,
    the second (EOF) reports node 7 gone once; a new connection clears it."""
    rec = Recorder()
    with trio.fail_after(10):
        async with running_server(no_handler, observer=rec) as port:
            a, _ = await raw_handshaken(port, kind="peer", node_id=7)
            b, _ = await raw_handshaken(port, kind="peer", node_id=7)
            await a.aclose()
            assert await rec.closes.receive() == ("peer", 7, True)
            assert rec.gone_ids == [] and rec.open_count(7) == 1
            await b.aclose()
            assert await rec.closes.receive() == ("peer", 7, True)
            assert rec.gone_ids == [7] and rec.gone() == [7]
            c, _ = await raw_handshaken(port, kind="peer", node_id=7)
            assert await rec.opens.receive() == ("peer", 7)
            assert rec.gone() == [] and rec.open_count(7) == 1
            await c.aclose()
            await rec.closes.receive()


async def test_reset_counts_as_gone():
    """Goal: a connection reset (what a killed process's socket with unread
    data sends) reports the peer gone too."""
    rec = Recorder()
    with trio.fail_after(10):
        async with running_server(no_handler, observer=rec) as port:
            s, _ = await raw_handshaken(port, kind="peer", node_id=3)
            s.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await s.aclose()
            assert await rec.closes.receive() == ("peer", 3, True)
            assert rec.gone_ids == [3]


async def test_server_closed_connection_and_tools_are_not_gone():
    """Goal: a connection the server ends (a frame never completed within
    partial_frame_timeout_ms) lowers the count but is no sign of death; a
    tool's (kind client) connection is never tracked."""
    rec = Recorder()
    with trio.fail_after(10):
        async with running_server(no_handler, observer=rec) as port:
            s, _ = await raw_handshaken(port, kind="peer", node_id=5)
            await s.send_all(b"\x00\x00\x01\x00partial")  # a frame that never completes
            assert await rec.closes.receive() == ("peer", 5, False)
            assert rec.gone_ids == [] and rec.gone() == [] and rec.open_count(5) == 0
            t, _ = await raw_handshaken(port, kind="client")
            await t.aclose()
            assert await rec.closes.receive() == ("client", None, True)
            assert rec.gone_ids == []
            await s.aclose()
