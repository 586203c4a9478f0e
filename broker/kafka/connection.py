"""One Kafka client connection: pipelined requests, in-order responses.

A reader task cuts frames. A request whose answer the listener already
holds (dispatch.respond_now: a repeated Metadata under an unchanged
image) is answered by the reader itself, synchronously, when nothing is
in flight before it; the answers of one read go out in one write. Every
other request goes to the responder (at most `requests_in_flight_max`
unanswered; beyond that the reader stops reading, so TCP pushes back).
The responder starts each request once the one before it released its
turn (request_order.py: at its answer, or earlier for a Produce whose
batches are appended, so acks=all waits overlap), and a sender answers
them in arrival order (aiokafka and librdkafka match responses by order
as well as by correlation id). The reader writes only while nothing is in
flight, so the two never write at once and the order holds.

Every request's size is reserved in the listener's memory pool
(memory_pool.py, `requests_queued_bytes_max`) as soon as its size prefix
is read, before more is read, and released when it is answered: a
connection whose next request does not fit stops reading until another
connection's answers free enough; a request larger than the whole pool
closes the connection. A connection with nothing in flight that sends
nothing for `connections_idle_ms_max` is closed.

Whatever a client sends, only its own connection can end: a malformed
frame, an unknown API or a handler failure closes it with one log line
(`kafka.connection_closed`, with the reason).
"""

from __future__ import annotations

import time

import trio

from rafka.broker.kafka import request_order
from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.kafka.context import BrokerView
from rafka.broker.kafka.answer_cache import AnswerCache, HitTally
from rafka.broker.kafka.dispatch import respond, respond_now
from rafka.broker.kafka.errors import MalformedRequest, UnsupportedRequest
from rafka.broker.kafka.frames import FrameBuffer
from rafka.broker.kafka.header import peek_correlation_id
from rafka.broker.kafka.memory_pool import RequestMemory
from rafka.netproto.stream import receive_into


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
        self.closed_too_large = 0  # a request larger than the whole memory pool
        self.handler_failures = 0
        self.answered_now = 0  # requests the reader answered from the answer cache
        self.memory_waits = 0  # times a reader waited for the memory pool


class Connection:
    def __init__(self, stream: trio.SocketStream, broker: BrokerView, config: KafkaListenerConfig,
                 stats: ConnectionStats, log, client_host: str = "", cache: AnswerCache | None = None,
                 memory: RequestMemory | None = None) -> None:
        self.stream = stream
        self.client_host = client_host  # Kafka's form, "/127.0.0.1" (DescribeGroups shows it)
        self.broker = broker
        self.config = config
        self.stats = stats
        self.log = log
        self.cache = cache
        self.memory = memory if memory is not None else RequestMemory(config.requests_queued_bytes_max)
        self.reserved_bytes = 0  # this connection's part of the memory pool
        # Requests the reader answered from the cache, not yet in metrics.
        self.tally = HitTally()
        self.tally_seconds = 0.0
        self.in_flight = 0
        # The reader waits for the client (and since when): _watch_idle.
        self.receiving = False
        self.receiving_since = trio.current_time()
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
        try:
            async with trio.open_nursery() as nursery:
                # Unbuffered: the responder's slots are the one bounded queue.
                send_ch, recv_ch = trio.open_memory_channel(0)
                nursery.start_soon(self._respond_loop, recv_ch, nursery.cancel_scope)
                watch = trio.CancelScope()
                nursery.start_soon(self._watch_idle, watch, nursery.cancel_scope)
                try:
                    await self._read_loop(send_ch, nursery.cancel_scope, initial)
                finally:
                    watch.cancel()
        finally:
            self._release(self.reserved_bytes)

    async def _watch_idle(self, watch: trio.CancelScope, scope: trio.CancelScope) -> None:
        """Close the connection once the reader has waited for the client
        `connections_idle_ms_max` with nothing in flight. (One timer task
        per connection: a deadline around every receive costs more than
        answering a cached request.)"""
        idle_s = self.config.connections_idle_ms_max / 1000
        with watch:
            while True:
                await trio.sleep_until(self.receiving_since + idle_s)
                now = trio.current_time()
                if now < self.receiving_since + idle_s:
                    continue  # the reader received since
                if self.receiving and self.in_flight == 0:
                    self.stats.closed_idle += 1
                    self._close(scope, "idle", idle_ms=self.config.connections_idle_ms_max)
                    return
                self.receiving_since = now  # busy: a new idle period

    def _release(self, n: int) -> None:
        self.reserved_bytes -= n
        self.memory.release(n)

    async def _reserve(self, n: int, out: list[bytes]) -> bool:
        """Take `n` bytes of the memory pool, waiting (not reading) while
        they do not fit; False (the connection closes) for a request the
        pool can never hold."""
        if not self.memory.fits_ever(n):
            await self._flush(out)
            self.stats.closed_too_large += 1
            self._close(None, "request larger than requests_queued_bytes_max", size=n,
                        requests_queued_bytes_max=self.memory.capacity_bytes)
            return False
        if not self.memory.reserve_now(n):
            await self._flush(out)
            self.stats.memory_waits += 1
            await self.memory.reserve(n)
        self.reserved_bytes += n
        return True

    async def _flush(self, out: list[bytes]) -> None:
        """Write the reader's answers (only while nothing is in flight) and
        report them to metrics."""
        if out:
            data = b"".join(out)
            out.clear()
            self.tally.report(self.broker, self.tally_seconds)
            self.tally_seconds = 0.0
            await self.stream.send_all(data)

    async def _read_loop(self, send_ch: trio.MemorySendChannel, scope: trio.CancelScope,
                         initial: bytes) -> None:
        frames = FrameBuffer(self.config.socket_request_bytes_max)
        receive_bytes_max = self.config.receive_bytes_max
        pending = initial
        carried = 0  # pool bytes reserved for the frame being read
        out: list[bytes] = []  # answers the reader made, not yet written
        out_bytes = 0
        async with send_ch:
            while True:
                pieces = frames.pieces
                if pending:
                    data, pending = pending, b""
                else:
                    self.receiving_since = trio.current_time()
                    self.receiving = True
                    if pieces is not None:  # a large request: read it straight into its buffer
                        n = await receive_into(self.stream, pieces)
                        data = b"" if n == 0 else None
                    else:
                        data = await self.stream.receive_some(receive_bytes_max)
                    self.receiving = False
                if data is not None and not data:
                    if not frames.empty:
                        self.stats.closed_malformed += 1
                        self._close(None, "truncated frame at end of stream", buffered=frames.buffered)
                    return  # EOF: the responder answers what is queued, then ends
                try:
                    complete = frames.pieces_filled(n) if data is None else frames.feed(data)
                except MalformedRequest as exc:
                    self.stats.closed_malformed += 1
                    self._close(None, "malformed", error=str(exc))
                    return
                for frame in complete:
                    if carried:  # the frame whose size an earlier read saw
                        carried = 0
                    elif not await self._reserve(len(frame), out):
                        return
                    if self.in_flight == 0 and self.cache is not None:
                        started = time.perf_counter()
                        answer = respond_now(frame, self.broker, self.cache, self.tally)
                        if answer is not None:
                            self.tally_seconds += time.perf_counter() - started
                            self._release(len(frame))
                            self.stats.requests += 1
                            self.stats.answered_now += 1
                            out.append(answer)
                            out_bytes += len(answer)
                            if out_bytes >= SEND_COALESCE_BYTES_MAX:
                                await self._flush(out)
                                out_bytes = 0
                            continue
                    await self._flush(out)
                    out_bytes = 0
                    self.in_flight += 1
                    await send_ch.send(frame)
                await self._flush(out)
                out_bytes = 0
                if frames.error is not None:
                    self.stats.closed_malformed += 1
                    self._close(None, "malformed", error=str(frames.error))
                    return
                need = frames.pending_size
                if need is not None and not carried:
                    if not await self._reserve(need, out):
                        return
                    carried = need

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
            _header, slot.response = await respond(slot.frame, self.broker, client_host=self.client_host,
                                                   cache=self.cache)
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
                size = answered = released = 0
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
                    released += len(slot.frame)
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
                self._release(released)


class _Slot:
    """One request on its way: its frame, then its response or failure."""

    __slots__ = ("frame", "response", "failure", "done")

    def __init__(self, frame: bytes) -> None:
        self.frame = frame
        self.response = b""
        self.failure: tuple[str, str] | None = None
        self.done = trio.Event()


async def serve_connection(stream: trio.SocketStream, broker: BrokerView, config: KafkaListenerConfig,
                           stats: ConnectionStats, log, initial: bytes = b"", *, cache: AnswerCache | None = None,
                           memory: RequestMemory | None = None) -> None:
    """Serve one accepted connection until it ends; never raises. `cache`
    and `memory` are the listener's (answer_cache.py, memory_pool.py); a
    connection alone gets no cache and a pool of its own."""
    client_host = ""
    try:
        peer = stream.socket.getpeername()
        peer_text = f"{peer[0]}:{peer[1]}"
        client_host = f"/{peer[0]}"
    except (AttributeError, OSError, IndexError, TypeError):
        peer_text = "?"  # not a socket stream (tests), or already gone
    conn = Connection(stream, broker, config, stats, log.bind(peer=peer_text), client_host, cache, memory)
    try:
        async with stream:
            await conn.run(initial)
    except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
        conn.close_reason = conn.close_reason or f"socket: {group.exceptions[0]!r}"
    if conn.close_reason is not None:
        log.info("kafka.connection_closed", peer=peer_text, reason=conn.close_reason, **conn.close_fields)
