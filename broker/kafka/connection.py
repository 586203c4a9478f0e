"""One Kafka client connection: pipelined requests, in-order responses.

A reader task cuts frames and queues them (at most
`requests_in_flight_max` unanswered; beyond that it stops reading, so TCP
pushes back); a responder task answers them one at a time, in arrival
order (aiokafka and librdkafka match responses by order as well as by
correlation id). A connection with nothing in flight that sends nothing
for `connections_idle_ms_max` is closed.

Whatever a client sends, only its own connection can end: a malformed
frame, an unknown API or a handler failure closes it with one log line
(`kafka.connection_closed`, with the reason).
"""

from __future__ import annotations

import structlog
import trio

from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.kafka.context import BrokerView
from rafka.broker.kafka.dispatch import respond
from rafka.broker.kafka.errors import MalformedRequest, UnsupportedRequest
from rafka.broker.kafka.frames import FrameBuffer
from rafka.broker.kafka.header import peek_correlation_id


class ConnectionStats:
    """Counters across the listener's connections (status and tests)."""

    def __init__(self) -> None:
        self.accepted = 0
        self.open = 0
        self.refused = 0
        self.requests = 0
        self.closed_malformed = 0
        self.closed_idle = 0
        self.handler_failures = 0


class Connection:
    def __init__(self, stream: trio.SocketStream, broker: BrokerView, config: KafkaListenerConfig,
                 stats: ConnectionStats, log) -> None:
        self.stream = stream
        self.broker = broker
        self.config = config
        self.stats = stats
        self.log = log
        self.in_flight = 0
        self.close_reason: str | None = None
        self.close_fields: dict = {}

    def _close(self, scope: trio.CancelScope | None, reason: str, **fields) -> None:
        """Record why the connection ends; with a scope, end it now (else
        the responder first answers what is already queued)."""
        if self.close_reason is None:
            self.close_reason = reason
            self.close_fields = fields
        if scope is not None:
            scope.cancel()

    async def run(self, initial: bytes = b"") -> None:
        """Serve until the client closes; `initial`: bytes already read."""
        async with trio.open_nursery() as nursery:
            send_ch, recv_ch = trio.open_memory_channel(self.config.requests_in_flight_max)
            nursery.start_soon(self._respond_loop, recv_ch, nursery.cancel_scope)
            await self._read_loop(send_ch, nursery.cancel_scope, initial)

    async def _read_loop(self, send_ch: trio.MemorySendChannel, scope: trio.CancelScope,
                         initial: bytes) -> None:
        frames = FrameBuffer(self.config.socket_request_bytes_max)
        idle_s = self.config.connections_idle_ms_max / 1000
        pending = initial
        async with send_ch:
            while True:
                if pending:
                    data, pending = pending, b""
                else:
                    with trio.move_on_after(idle_s) as idle:
                        data = await self.stream.receive_some(self.config.receive_bytes_max)
                    if idle.cancelled_caught:
                        if self.in_flight == 0:
                            self.stats.closed_idle += 1
                            self._close(scope, "idle", idle_ms=self.config.connections_idle_ms_max)
                            return
                        continue
                if not data:
                    if not frames.empty:
                        self.stats.closed_malformed += 1
                        self._close(None, "truncated frame at end of stream", buffered=frames.buffered)
                    return  # EOF: the responder answers what is queued, then ends
                try:
                    complete = frames.feed(data)
                except MalformedRequest as exc:
                    self.stats.closed_malformed += 1
                    self._close(None, "malformed", error=str(exc))
                    return
                for frame in complete:
                    self.in_flight += 1
                    await send_ch.send(frame)
                if frames.error is not None:
                    self.stats.closed_malformed += 1
                    self._close(None, "malformed", error=str(frames.error))
                    return

    async def _respond_loop(self, recv_ch: trio.MemoryReceiveChannel, scope: trio.CancelScope) -> None:
        async with recv_ch:
            async for frame in recv_ch:
                try:
                    header, response = await respond(frame, self.broker)
                except (MalformedRequest, UnsupportedRequest) as exc:
                    self.stats.closed_malformed += 1
                    self._close(scope, "malformed", error=str(exc), correlation_id=peek_correlation_id(frame))
                    return
                except Exception as exc:  # noqa: BLE001 - a handler bug ends this connection, never the node
                    self.stats.handler_failures += 1
                    self._close(scope, "handler_failed", error=f"{type(exc).__name__}: {exc}",
                                correlation_id=peek_correlation_id(frame))
                    self.log.exception("kafka.handler_failed")
                    return
                self.stats.requests += 1
                if response:  # empty: a request answered with nothing (acks=0 produce)
                    await self.stream.send_all(response)
                self.in_flight -= 1


async def serve_connection(stream: trio.SocketStream, broker: BrokerView, config: KafkaListenerConfig,
                           stats: ConnectionStats, log, initial: bytes = b"") -> None:
    """Serve one accepted connection until it ends; never raises."""
    try:
        peer = stream.socket.getpeername()
        peer_text = f"{peer[0]}:{peer[1]}"
    except (AttributeError, OSError, IndexError, TypeError):
        peer_text = "?"  # not a socket stream (tests), or already gone
    conn = Connection(stream, broker, config, stats, log.bind(peer=peer_text))
    try:
        async with stream:
            await conn.run(initial)
    except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
        conn.close_reason = conn.close_reason or f"socket: {group.exceptions[0]!r}"
    if conn.close_reason is not None:
        log.info("kafka.connection_closed", peer=peer_text, reason=conn.close_reason, **conn.close_fields)
