"""The server side: a listener serving typed requests to a handler.

Usage::

    port = await nursery.start(functools.partial(
        serve, handler, host="127.0.0.1", port=0, cluster_id=cid, node_id=1,
        accepts={CreateTopic.TYPE, ...}, limits=NetLimits()))

``handler(msg, ctx) -> Message | None`` is awaited for each accepted message;
``ctx`` is a ``RequestContext`` (peer address, the handshake's kind and
node_id, whether the message is one-way). For a request, the returned
message is the response (None answers ``Ack``); a ``RafkaError`` becomes an
error response with its code; any other exception becomes
UNKNOWN_SERVER_ERROR, logged once. For a one-way message the result is
ignored.

Concurrency (per connection, each connection in its own task):
- requests are handled concurrently, at most ``in_flight_max`` at a time;
  beyond that the server stops reading the connection (backpressure), and
  responses go out in completion order, each with its correlation id;
- one-way messages are handled inline by the reading task, in arrival
  order (Raft traffic keeps its order); a one-way handler must be quick
  (e.g. put the message on a bounded queue).

Refusals (one structlog line each; the server keeps serving everyone else):
- handshake: wrong version / cluster id / kind, or none within
  ``handshake_timeout_ms`` -> error frame (when applicable) and close;
- oversized frame, garbage msgpack, a malformed envelope -> error frame with
  correlation id 0 and close (the stream's framing can no longer be trusted);
- a request of a type not in ``accepts`` or with an invalid body ->
  INVALID_REQUEST response, connection stays open; a one-way message of a
  type not in ``accepts`` -> error frame and close; an invalid one-way body
  is dropped;
- a peer that half-closes (EOF) gets the responses of its pending requests
  (flushed within ``close_linger_ms``), then the connection closes;
- a frame not completed within ``partial_frame_timeout_ms``, no traffic for
  ``idle_timeout_ms``, or a response not written within
  ``partial_frame_timeout_ms`` -> close;
- more than ``connections_max`` connections -> the new one is closed.

An optional ``observer`` hears of every handshaken connection: ``opened(ctx)``
and, once it is over (its handlers done), ``closed(ctx, peer_gone)``, where
``peer_gone`` is True when the peer ended it (EOF or reset: e.g. its process
died) rather than this server (timeout, bad frame, shutdown). It must be
quick and must not raise (a failure is logged and ignored).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable, Protocol

import structlog
import trio

from rafka.netproto.envelope import (
    ONEWAY,
    REQUEST,
    RESPONSE,
    CorruptEnvelope,
    decode_envelope,
    encode_error,
    encode_message,
)
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.framing import FrameError
from rafka.netproto.handshake import BUILTIN_TYPES, PROTOCOL_VERSION, Ack, Handshake, HandshakeOk, check_handshake
from rafka.netproto.limits import NetLimits
from rafka.netproto.schema import InvalidMessage, Message, from_wire
from rafka.netproto.stream import FrameStream, ReadTimeout

_log = structlog.get_logger("netproto.server")
_STREAM_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


@dataclass(frozen=True)
class RequestContext:
    """Who sent a message. ``node_id`` and ``kind`` are the peer's handshake
    claims (a "peer" always names its node id)."""

    peer: tuple[str, int]
    kind: str
    node_id: int | None
    connection_id: int
    oneway: bool = False


Handler = Callable[[Message, RequestContext], Awaitable[Message | None]]


class ConnectionObserver(Protocol):
    def opened(self, ctx: RequestContext) -> None: ...

    def closed(self, ctx: RequestContext, peer_gone: bool) -> None: ...


def _type_names(accepts: Iterable[str | type] | None) -> frozenset[str] | None:
    if accepts is None:
        return None
    return frozenset(a if isinstance(a, str) else a.TYPE for a in accepts) - BUILTIN_TYPES


async def serve(
    handler: Handler,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    cluster_id: str,
    node_id: int,
    accepts: Iterable[str | type] | None = None,
    kinds: Iterable[str] | None = None,
    clients_need_cluster_id: bool = False,
    limits: NetLimits | None = None,
    observer: ConnectionObserver | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled. Start with ``nursery.start``; it returns the
    bound port (``port=0`` picks a free one). ``accepts`` is the set of
    message types (names or classes) this listener takes; None takes every
    registered type. ``kinds`` restricts connection kinds ("client",
    "peer"); None allows both. ``clients_need_cluster_id`` refuses a
    "client" connection that does not name this cluster's id."""
    server = _Server(handler, cluster_id, node_id, _type_names(accepts),
                     frozenset(kinds) if kinds is not None else None, limits or NetLimits())
    server.clients_need_cluster_id = clients_need_cluster_id
    server.observer = observer
    listeners = await trio.open_tcp_listeners(port, host=host)
    if port == 0 and len(listeners) > 1:  # e.g. IPv4 + IPv6 with different ports
        for extra in listeners[1:]:
            await extra.aclose()
        listeners = listeners[:1]
    bound = listeners[0].socket.getsockname()[1]
    _log.info("netproto.listening", node_id=node_id, host=host, port=bound)
    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(server.accept_loop, listener, nursery)
        task_status.started(bound)


class _Server:
    def __init__(self, handler: Handler, cluster_id: str, node_id: int, accepts: frozenset[str] | None,
                 kinds: frozenset[str] | None, limits: NetLimits) -> None:
        self.handler = handler
        self.cluster_id = cluster_id
        self.node_id = node_id
        self.accepts = accepts
        self.kinds = kinds
        self.clients_need_cluster_id = False
        self.observer: ConnectionObserver | None = None
        self.limits = limits
        self.active = 0
        self._ids = itertools.count(1)

    def accepted(self, type_name: str) -> bool:
        if self.accepts is None:  # unknown names then fail in from_wire
            return type_name not in BUILTIN_TYPES
        return type_name in self.accepts

    async def accept_loop(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        async with listener:
            while True:
                try:
                    stream = await listener.accept()
                except OSError as exc:  # e.g. out of file descriptors: wait, keep serving
                    _log.warning("netproto.accept_failed", node_id=self.node_id, error=repr(exc))
                    await trio.sleep(0.1)
                    continue
                if self.active >= self.limits.connections_max:
                    _log.warning("netproto.connection_refused", node_id=self.node_id,
                                 reason="connections_max reached", connections_max=self.limits.connections_max)
                    await trio.aclose_forcefully(stream)
                    continue
                self.active += 1
                nursery.start_soon(self._connection, stream)

    async def _connection(self, stream: trio.SocketStream) -> None:
        conn_id = next(self._ids)
        try:
            host, port = stream.socket.getpeername()[:2]
        except OSError:
            host, port = "?", 0
        log = _log.bind(node_id=self.node_id, conn_id=conn_id, peer=f"{host}:{port}")
        try:
            await self._run(stream, (host, port), conn_id, log)
        except _STREAM_ERRORS as exc:
            log.debug("netproto.connection_lost", error=repr(exc))
        except Exception:  # an invariant broke; keep serving everyone else
            log.exception("netproto.connection_failed")
        finally:
            self.active -= 1
            await trio.aclose_forcefully(stream)

    async def _run(self, stream: trio.SocketStream, peer: tuple[str, int], conn_id: int, log) -> None:
        limits = self.limits
        fs = FrameStream(stream, limits.frame_bytes_max, limits.read_chunk_bytes)
        hs: Handshake | None = None
        with trio.move_on_after(limits.handshake_timeout_ms / 1000) as scope:
            try:
                hs = await self._handshake(fs)
            except RafkaError as err:
                log.warning("netproto.handshake_refused", code=err.code.name, reason=err.message)
                await self._send_fatal(stream, err)
                return
            if hs is None:
                log.debug("netproto.closed_before_handshake")
                return
        if scope.cancelled_caught:
            log.warning("netproto.handshake_timeout", handshake_timeout_ms=limits.handshake_timeout_ms)
            return
        assert hs is not None
        log = log.bind(kind=hs.kind, peer_node_id=hs.node_id)
        ctx = RequestContext(peer=peer, kind=hs.kind, node_id=hs.node_id, connection_id=conn_id)
        conn = _ConnectionServer(self, fs, stream, ctx, log)
        self._observe(log, "opened", ctx)
        try:
            await conn.run()
        finally:
            self._observe(log, "closed", ctx, conn.peer_gone)

    def _observe(self, log, what: str, *args) -> None:
        if self.observer is None:
            return
        try:
            getattr(self.observer, what)(*args)
        except Exception:
            log.exception("netproto.observer_failed", call=what)

    async def _handshake(self, fs: FrameStream) -> Handshake | None:
        payload = await fs.receive_frame()
        if payload is None:
            return None
        kind, corr, type_name, body = decode_envelope(payload, self.limits)
        if kind != REQUEST or corr != 0 or type_name != Handshake.TYPE:
            raise RafkaError(ErrorCode.INVALID_REQUEST, "the first message must be a handshake")
        hs = from_wire(type_name, body)
        assert isinstance(hs, Handshake)
        check_handshake(hs, cluster_id=self.cluster_id, kinds=self.kinds,
                        clients_need_cluster_id=self.clients_need_cluster_id)
        ok = HandshakeOk(PROTOCOL_VERSION, self.cluster_id, self.node_id)
        await fs.stream.send_all(encode_message(RESPONSE, 0, ok, self.limits.frame_bytes_max))  # type: ignore[attr-defined]
        return hs

    async def _send_fatal(self, stream: trio.SocketStream, err: RafkaError) -> None:
        """Best effort: tell the peer why before closing (bounded by linger)."""
        with trio.move_on_after(self.limits.close_linger_ms / 1000):
            try:
                await stream.send_all(encode_error(0, err.code, err.message, self.limits.frame_bytes_max))
            except _STREAM_ERRORS:
                pass


class _ConnectionServer:
    """One handshaken connection: a reader (this task), a writer task and
    request handler tasks, all in this connection's nurseries."""

    def __init__(self, server: _Server, fs: FrameStream, stream: trio.SocketStream,
                 ctx: RequestContext, log) -> None:
        self.server = server
        self.limits = server.limits
        self.fs = fs
        self.stream = stream
        self.ctx = ctx
        self.oneway_ctx = RequestContext(ctx.peer, ctx.kind, ctx.node_id, ctx.connection_id, oneway=True)
        self.log = log
        self.in_flight = trio.Semaphore(self.limits.in_flight_max)
        self.clean_eof = False
        self.peer_gone = False  # the peer ended the connection (EOF or reset)
        self.send_ch, self.recv_ch = trio.open_memory_channel[bytes](self.limits.send_queue_max)

    async def run(self) -> None:
        async with trio.open_nursery() as conn_nursery:
            conn_nursery.start_soon(self._writer, conn_nursery.cancel_scope)
            async with self.send_ch:
                async with trio.open_nursery() as handlers:
                    fatal = await self._read_loop(handlers)
                    if not self.clean_eof:
                        handlers.cancel_scope.cancel()
                    # else: the peer half-closed; let its requests finish.
                if fatal is not None:
                    try:
                        self.send_ch.send_nowait(
                            encode_error(0, fatal.code, fatal.message, self.limits.frame_bytes_max))
                    except trio.WouldBlock:
                        pass
                elif not self.clean_eof:
                    conn_nursery.cancel_scope.cancel()
            # The writer flushes what is queued (responses, the error frame),
            # bounded; a peer that is fully gone fails the writer at once.
            conn_nursery.cancel_scope.deadline = trio.current_time() + self.limits.close_linger_ms / 1000

    async def _writer(self, scope: trio.CancelScope) -> None:
        write_s = self.limits.partial_frame_timeout_ms / 1000
        try:
            async with self.recv_ch:
                async for frame in self.recv_ch:
                    with trio.fail_after(write_s):
                        await self.stream.send_all(frame)
        except trio.TooSlowError:
            self.log.warning("netproto.write_timeout", reason="peer does not read its responses")
            scope.cancel()
        except _STREAM_ERRORS as exc:
            self.log.debug("netproto.write_failed", error=repr(exc))
            scope.cancel()

    async def _read_loop(self, handlers: trio.Nursery) -> RafkaError | None:
        """Read and dispatch frames; returns the fatal error to report (if
        any) when the connection must close."""
        limits = self.limits
        idle_s = limits.idle_timeout_ms / 1000
        partial_s = limits.partial_frame_timeout_ms / 1000
        while True:
            try:
                payload = await self.fs.receive_frame(idle_timeout_s=idle_s, partial_timeout_s=partial_s)
                if payload is None:
                    self.log.debug("netproto.connection_closed")
                    self.clean_eof = True
                    self.peer_gone = True
                    return None
                kind, corr, type_name, body = decode_envelope(payload, limits)
            except ReadTimeout as exc:
                if exc.which == "idle" and not self._idle():
                    continue  # quiet, but waiting on its own requests: not idle
                self.log.warning("netproto.read_timeout", which=exc.which)
                return None
            except (FrameError, CorruptEnvelope) as exc:
                self.log.warning("netproto.bad_frame", code=exc.code.name, reason=exc.message)
                return exc
            except _STREAM_ERRORS as exc:
                self.log.debug("netproto.connection_lost", error=repr(exc))
                self.peer_gone = not isinstance(exc, trio.ClosedResourceError)  # closed here: not the peer
                return None
            if kind == REQUEST:
                await self._on_request(handlers, corr, type_name, body)
            elif kind == ONEWAY:
                fatal = await self._on_oneway(type_name, body)
                if fatal is not None:
                    return fatal
            else:
                err = CorruptEnvelope(f"a client may not send envelope kind {kind}")
                self.log.warning("netproto.bad_frame", code=err.code.name, reason=err.message)
                return err

    def _idle(self) -> bool:
        return self.in_flight.value == self.limits.in_flight_max

    async def _on_request(self, handlers: trio.Nursery, corr: int, type_name: str, body: object) -> None:
        try:
            if not self.server.accepted(type_name):
                raise InvalidMessage(f"message type {type_name!r} is not accepted on this listener")
            msg = from_wire(type_name, body)
        except InvalidMessage as err:
            self.log.warning("netproto.request_refused", type=type_name, reason=err.message)
            await self._send(encode_error(corr, err.code, err.message, self.limits.frame_bytes_max))
            return
        await self.in_flight.acquire()
        handlers.start_soon(self._handle_request, corr, msg)

    async def _on_oneway(self, type_name: str, body: object) -> RafkaError | None:
        if not self.server.accepted(type_name):
            err = InvalidMessage(f"one-way message type {type_name!r} is not accepted on this listener")
            self.log.warning("netproto.oneway_refused", type=type_name, reason=err.message)
            return err
        try:
            msg = from_wire(type_name, body)
        except InvalidMessage as err:
            self.log.warning("netproto.oneway_dropped", type=type_name, reason=err.message)
            return None
        try:
            await self.server.handler(msg, self.oneway_ctx)
        except Exception:
            self.log.exception("netproto.handler_failed", type=type_name, oneway=True)
        return None

    async def _handle_request(self, corr: int, msg: Message) -> None:
        frame_max = self.limits.frame_bytes_max
        try:
            try:
                response = await self.server.handler(msg, self.ctx)
                frame = encode_message(RESPONSE, corr, Ack() if response is None else response, frame_max)
            except RafkaError as err:
                if isinstance(err, (InvalidMessage, FrameError)):  # a bad response: a server bug
                    self.log.error("netproto.bad_response", type=msg.TYPE, code=err.code.name, reason=err.message)
                frame = encode_error(corr, err.code, err.message, frame_max)
            except Exception as exc:
                self.log.exception("netproto.handler_failed", type=msg.TYPE)
                frame = encode_error(corr, ErrorCode.UNKNOWN_SERVER_ERROR, f"{type(exc).__name__}: {exc}", frame_max)
            await self._send(frame)
        finally:
            self.in_flight.release()

    async def _send(self, frame: bytes) -> None:
        try:
            await self.send_ch.send(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the writer is gone; the connection is closing
