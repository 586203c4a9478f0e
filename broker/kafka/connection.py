"""One Kafka client connection: pipelined requests, in-order responses.

A reader task cuts frames and hands them to the responder (at most
`requests_in_flight_max` unanswered; beyond that it stops reading, so TCP
pushes back). The responder starts each request once the one before it
released its turn (request_order.py: at its answer, or earlier for a
Produce whose batches are appended, so acks=all waits overlap), and a
sender answers them in arrival order (aiokafka and librdkafka match
responses by order as well as by correlation id). A connection with nothing in flight that sends nothing
for `connections_idle_ms_max` is closed.

Whatever a client sends, only its own connection can end: a malformed
frame, an unknown API or a handler failure closes it with one log line
(`kafka.connection_closed`, with the reason).
"""

from __future__ import annotations

import structlog
import trio

from rafka.broker.kafka import request_order
from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.kafka.context import BrokerView
from rafka.broker.kafka.dispatch import respond
from rafka.broker.kafka.errors import MalformedRequest, UnsupportedRequest
from rafka.broker.kafka.frames import FrameBuffer
from rafka.broker.kafka.header import peek_correlation_id


# Responses joined into one socket write at most (bytes; one response
# bigger than this still goes out whole, alone).
SEND_COALESCE_BYTES_MAX = 1024 * 1024
# Scheduler rounds the sender waits for the next queued response to be
# ready before writing what it has (each round runs every ready task once).
SEND_COALESCE_ROUNDS_MAX = 4


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
                 stats: ConnectionStats, log, client_host: str = "") -> None:
        self.stream = stream
        self.client_host = client_host  # Kafka's form, "/127.0.0.1" (DescribeGroups shows it)
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
            # Unbuffered: the responder's slots are the one bounded queue.
            send_ch, recv_ch = trio.open_memory_channel(0)
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
        """Start each request once the one before it released its turn
        (request_order.py), and hand its slot to the sender, which answers
        in arrival order. At most `requests_in_flight_max` slots wait."""
        slots_send, slots_recv = trio.open_memory_channel(self.config.requests_in_flight_max)
        async with recv_ch, trio.open_nursery() as handlers:
            handlers.start_soon(self._send_loop, slots_recv, scope)
            previous = trio.Event()
            previous.set()
            async with slots_send:
                async for frame in recv_ch:
                    slot = _Slot(frame)
                    await slots_send.send(slot)
                    turn = trio.Event()
                    handlers.start_soon(self._handle, slot, previous, turn)
                    previous = turn

    async def _handle(self, slot: "_Slot", previous: trio.Event, turn: trio.Event) -> None:
        try:
            await previous.wait()
            request_order.begin(turn)
            _header, slot.response = await respond(slot.frame, self.broker, client_host=self.client_host)
        except (MalformedRequest, UnsupportedRequest) as exc:
            slot.failure = ("malformed", str(exc))
        except Exception as exc:  # noqa: BLE001 - a handler bug ends this connection, never the node
            slot.failure = ("handler_failed", f"{type(exc).__name__}: {exc}")
            self.log.exception("kafka.handler_failed")
        finally:
            turn.set()
            slot.done.set()

    async def _send_loop(self, slots: trio.MemoryReceiveChannel, scope: trio.CancelScope) -> None:
        """Answer in arrival order; responses already done behind the first
        go out in the same write (up to SEND_COALESCE_BYTES_MAX), so a
        pipelining client costs one syscall per batch, not per request."""
        async with slots:
            pending: _Slot | None = None
            while True:
                slot = pending
                pending = None
                if slot is None:
                    try:
                        slot = await slots.receive()
                    except trio.EndOfChannel:
                        return
                await slot.done.wait()
                out: list[bytes] = []
                size = answered = 0
                while True:
                    if slot.failure is not None:
                        if out:  # what came before it is still answered
                            await self.stream.send_all(b"".join(out))
                        reason, error = slot.failure
                        if reason == "malformed":
                            self.stats.closed_malformed += 1
                        else:
                            self.stats.handler_failures += 1
                        self._close(scope, reason, error=error, correlation_id=peek_correlation_id(slot.frame))
                        return
                    self.stats.requests += 1
                    answered += 1
                    if slot.response:  # empty: a request answered with nothing (acks=0 produce)
                        out.append(slot.response)
                        size += len(slot.response)
                    if size >= SEND_COALESCE_BYTES_MAX:
                        break
                    try:
                        nxt = slots.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                    # Requests run one after another (request_order.py): give
                    # the next a few scheduler rounds to finish (a cached
                    # Metadata takes one) before writing what is ready.
                    for _ in range(SEND_COALESCE_ROUNDS_MAX):
                        if nxt.done.is_set():
                            break
                        await trio.lowlevel.checkpoint()
                    if not nxt.done.is_set():
                        pending = nxt
                        break
                    slot = nxt
                if out:
                    await self.stream.send_all(b"".join(out))
                self.in_flight -= answered


class _Slot:
    """One request on its way: its frame, then its response or failure."""

    __slots__ = ("frame", "response", "failure", "done")

    def __init__(self, frame: bytes) -> None:
        self.frame = frame
        self.response = b""
        self.failure: tuple[str, str] | None = None
        self.done = trio.Event()


async def serve_connection(stream: trio.SocketStream, broker: BrokerView, config: KafkaListenerConfig,
                           stats: ConnectionStats, log, initial: bytes = b"") -> None:
    """Serve one accepted connection until it ends; never raises."""
    client_host = ""
    try:
        peer = stream.socket.getpeername()
        peer_text = f"{peer[0]}:{peer[1]}"
        client_host = f"/{peer[0]}"
    except (AttributeError, OSError, IndexError, TypeError):
        peer_text = "?"  # not a socket stream (tests), or already gone
    conn = Connection(stream, broker, config, stats, log.bind(peer=peer_text), client_host)
    try:
        async with stream:
            await conn.run(initial)
    except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
        conn.close_reason = conn.close_reason or f"socket: {group.exceptions[0]!r}"
    if conn.close_reason is not None:
        log.info("kafka.connection_closed", peer=peer_text, reason=conn.close_reason, **conn.close_fields)
