"""Client side of one connection: handshake, calls with correlation ids,
one-way sends.

Usage::

    async with open_connection(host, port, cluster_id=cid, kind="client",
                               limits=NetLimits()) as conn:
        reply = await conn.call(SomeRequest(...), timeout_s=2.0)
        await conn.send_oneway(SomeRaftMessage(...))

Semantics:
- Several calls may be in flight at once (at most ``in_flight_max``; more
  wait for a slot inside their own deadline). Responses are matched by
  correlation id, in any order.
- ``call`` raises ``RafkaError`` with the server's error code for an error
  response, REQUEST_TIMED_OUT when ``timeout_s`` passes (the late response,
  if any, is dropped on arrival), NETWORK_EXCEPTION when the connection is
  lost (the request may or may not have been processed), and
  ``NotSentError`` (also NETWORK_EXCEPTION) when the connection was already
  closed so the request surely was not sent.
- Frames go out through one writer task fed by a bounded channel, so a
  cancelled call can never leave half a frame on the wire. The writer sends
  every frame already queued (up to ``WRITE_COALESCE_BYTES_MAX``) in one
  ``send_all``: one syscall for a burst instead of one per frame.
- The connection never raises into the caller's ``async with`` body from its
  background tasks: a lost connection just fails the calls.

Invariant: a correlation id is in ``_pending`` only while its caller waits.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable

import structlog
import trio

from rafka.netproto.envelope import (
    CORRELATION_ID_MAX,
    ERROR,
    ONEWAY,
    REQUEST,
    RESPONSE,
    decode_envelope,
    encode_message,
    error_from_wire,
)
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.handshake import PROTOCOL_VERSION, Handshake, HandshakeOk
from rafka.netproto.limits import NetLimits
from rafka.netproto.nursery import open_background_nursery
from rafka.netproto.schema import Message, from_wire
from rafka.netproto.stream import FrameStream

_log = structlog.get_logger("netproto.connection")
_STREAM_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
# Bytes of queued frames joined into one send_all (a frame larger than this
# still goes whole, alone).
WRITE_COALESCE_BYTES_MAX = 256 * 1024


class NotSentError(RafkaError):
    """NETWORK_EXCEPTION for a request that surely never left this process
    (could not connect, or the connection was already closed): safe to
    retry elsewhere even when the request is not idempotent."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.NETWORK_EXCEPTION, message)


# Handshake refusals that the same address will repeat (wrong listener
# kind, cluster id or protocol version): definite, so never retried there.
HANDSHAKE_REFUSAL_CODES = frozenset({ErrorCode.INVALID_REQUEST, ErrorCode.INCONSISTENT_CLUSTER_ID,
                                     ErrorCode.UNSUPPORTED_VERSION})


class HandshakeRefusedError(RafkaError):
    """The server refused the handshake with one of HANDSHAKE_REFUSAL_CODES
    (keeping the server's code and text). The request surely was not sent,
    and retrying the same address cannot help: callers try another address
    or fail at once."""


class _Pending:
    __slots__ = ("event", "result", "error")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.result: Message | None = None
        self.error: RafkaError | None = None


class Connection:
    """An open, handshaken connection (made by ``open_connection``)."""

    def __init__(self, fs: FrameStream, addr: tuple[str, int], ok: HandshakeOk, limits: NetLimits) -> None:
        self.addr = addr
        self.server_cluster_id = ok.cluster_id
        self.server_node_id = ok.node_id
        self.limits = limits
        self._fs = fs
        self._send_ch, self._recv_ch = trio.open_memory_channel[bytes](limits.send_queue_max)
        self._in_flight = trio.Semaphore(limits.in_flight_max)
        self._pending: dict[int, _Pending] = {}
        self._next_corr = 0
        self._closed = trio.Event()
        self.close_reason: RafkaError | None = None
        # Called once when the connection closes (the pool uses it to wake).
        self.on_close: list[Callable[[], None]] = []

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def call(self, msg: Message, timeout_s: float) -> Message:
        """Send ``msg`` as a request and return the response message."""
        if self.closed:
            raise NotSentError(f"connection to {_fmt(self.addr)} is closed: {self.close_reason}")
        pending = _Pending()
        with trio.move_on_after(timeout_s):
            async with self._in_flight:
                if self.closed:
                    raise NotSentError(f"connection to {_fmt(self.addr)} is closed: {self.close_reason}")
                corr = self._allocate_corr()
                frame = encode_message(REQUEST, corr, msg, self.limits.frame_bytes_max)
                self._pending[corr] = pending
                try:
                    try:
                        await self._send_ch.send(frame)
                    except (trio.ClosedResourceError, trio.BrokenResourceError):
                        raise NotSentError(f"connection to {_fmt(self.addr)} closed: {self.close_reason}") from None
                    await pending.event.wait()
                finally:
                    del self._pending[corr]
        if not pending.event.is_set():
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, f"{msg.TYPE} to {_fmt(self.addr)} timed out after {timeout_s}s")
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    async def send_oneway(self, msg: Message) -> None:
        """Queue ``msg`` as a one-way message (no response). Waits while the
        send queue is full; raises NotSentError if the connection is closed."""
        frame = encode_message(ONEWAY, 0, msg, self.limits.frame_bytes_max)
        try:
            await self._send_ch.send(frame)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise NotSentError(f"connection to {_fmt(self.addr)} is closed: {self.close_reason}") from None

    def send_oneway_nowait(self, msg: Message) -> bool:
        """Queue ``msg`` as a one-way message without waiting; False (and
        nothing queued) when the send queue is full. Raises NotSentError if
        the connection is closed, InvalidMessage / FrameError for a bad
        message. Several calls in a row leave the frames for one write."""
        frame = encode_message(ONEWAY, 0, msg, self.limits.frame_bytes_max)
        try:
            self._send_ch.send_nowait(frame)
        except trio.WouldBlock:
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise NotSentError(f"connection to {_fmt(self.addr)} is closed: {self.close_reason}") from None
        return True

    # ------------------------------------------------------------ internals

    def _allocate_corr(self) -> int:
        # 0 is reserved for the handshake and connection-level errors.
        while True:
            self._next_corr = self._next_corr % CORRELATION_ID_MAX + 1
            if self._next_corr not in self._pending:
                return self._next_corr

    def _close(self, reason: RafkaError) -> None:
        if self.closed:
            return
        self.close_reason = reason
        self._closed.set()
        self._send_ch.close()
        for pending in self._pending.values():
            if not pending.event.is_set():
                pending.error = RafkaError(reason.code, reason.message)
                pending.event.set()
        for callback in self.on_close:
            callback()

    async def _writer(self, stream: trio.abc.SendStream) -> None:
        recv = self._recv_ch
        try:
            async with recv:
                async for frame in recv:
                    size = len(frame)
                    if size < WRITE_COALESCE_BYTES_MAX:
                        frames = [frame]
                        while size < WRITE_COALESCE_BYTES_MAX:
                            try:
                                more = recv.receive_nowait()
                            except (trio.WouldBlock, trio.EndOfChannel):
                                break
                            frames.append(more)
                            size += len(more)
                        if len(frames) > 1:
                            frame = b"".join(frames)
                    await stream.send_all(frame)
        except _STREAM_ERRORS as exc:
            self._close(RafkaError(ErrorCode.NETWORK_EXCEPTION, f"send failed: {exc!r}"))

    async def _reader(self) -> None:
        try:
            reason = await self._read_loop()
        except _STREAM_ERRORS as exc:
            reason = RafkaError(ErrorCode.NETWORK_EXCEPTION, f"connection lost: {exc!r}")
        except RafkaError as exc:  # FrameError, CorruptEnvelope, ReadTimeout
            _log.warning("netproto.client_bad_stream", peer=_fmt(self.addr), code=exc.code.name, reason=exc.message)
            reason = RafkaError(ErrorCode.NETWORK_EXCEPTION, f"bad data from server: {exc.message}")
        self._close(reason)

    async def _read_loop(self) -> RafkaError:
        partial_s = self.limits.partial_frame_timeout_ms / 1000
        while True:
            payload = await self._fs.receive_frame(partial_timeout_s=partial_s)
            if payload is None:
                return RafkaError(ErrorCode.NETWORK_EXCEPTION, f"{_fmt(self.addr)} closed the connection")
            kind, corr, a, b = decode_envelope(payload, self.limits)
            if kind == ERROR and corr == 0:
                return error_from_wire(a, b)
            if kind not in (RESPONSE, ERROR):
                return RafkaError(ErrorCode.NETWORK_EXCEPTION, f"unexpected envelope kind {kind} from server")
            pending = self._pending.get(corr)
            if pending is None or pending.event.is_set():
                _log.debug("netproto.late_response_dropped", peer=_fmt(self.addr), corr=corr)
                continue
            if kind == ERROR:
                pending.error = error_from_wire(a, b)
            else:
                try:
                    pending.result = from_wire(a, b)
                except RafkaError as exc:
                    pending.error = exc
            pending.event.set()


def _fmt(addr: tuple[str, int]) -> str:
    return f"{addr[0]}:{addr[1]}"


async def _handshake(fs: FrameStream, hs: Handshake, limits: NetLimits) -> HandshakeOk:
    await fs.stream.send_all(encode_message(REQUEST, 0, hs, limits.frame_bytes_max))  # type: ignore[attr-defined]
    payload = await fs.receive_frame(partial_timeout_s=limits.handshake_timeout_ms / 1000)
    if payload is None:
        raise NotSentError("connection closed during the handshake (server full or shutting down?)")
    kind, corr, a, b = decode_envelope(payload, limits)
    if kind == ERROR:
        err = error_from_wire(a, b)
        if err.code in HANDSHAKE_REFUSAL_CODES:
            raise HandshakeRefusedError(err.code, err.message)
        raise err
    if kind != RESPONSE or corr != 0 or a != HandshakeOk.TYPE:
        raise RafkaError(ErrorCode.NETWORK_EXCEPTION, "unexpected handshake reply")
    ok = from_wire(a, b)
    assert isinstance(ok, HandshakeOk)
    return ok


@asynccontextmanager
async def open_connection(
    host: str,
    port: int,
    *,
    cluster_id: str | None,
    kind: str,
    node_id: int | None = None,
    limits: NetLimits | None = None,
) -> AsyncIterator[Connection]:
    """Connect, handshake, and yield a ``Connection``; closes it on exit.

    Raises NotSentError when the TCP connect fails or times out
    (``connect_timeout_ms``), the server's refusal (UNSUPPORTED_VERSION,
    INCONSISTENT_CLUSTER_ID, INVALID_REQUEST) as HandshakeRefusedError, REQUEST_TIMED_OUT when the
    handshake takes longer than ``handshake_timeout_ms``."""
    limits = limits or NetLimits()
    addr = (host, port)
    stream: trio.SocketStream | None = None
    with trio.move_on_after(limits.connect_timeout_ms / 1000):
        try:
            stream = await trio.open_tcp_stream(host, port)
        except OSError as exc:
            raise NotSentError(f"cannot connect to {_fmt(addr)}: {exc.strerror or exc}") from None
    if stream is None:
        raise NotSentError(f"connect to {_fmt(addr)} timed out")
    try:
        fs = FrameStream(stream, limits.frame_bytes_max, limits.read_chunk_bytes)
        hs = Handshake(PROTOCOL_VERSION, cluster_id, kind, node_id)
        ok: HandshakeOk | None = None
        with trio.move_on_after(limits.handshake_timeout_ms / 1000):
            try:
                ok = await _handshake(fs, hs, limits)
            except _STREAM_ERRORS as exc:
                raise NotSentError(f"handshake with {_fmt(addr)} failed: {exc!r}") from None
        if ok is None:
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, f"handshake with {_fmt(addr)} timed out")
        conn = Connection(fs, addr, ok, limits)
        async with open_background_nursery() as nursery:
            nursery.start_soon(conn._reader)
            nursery.start_soon(conn._writer, stream)
            try:
                yield conn
            finally:
                conn._close(RafkaError(ErrorCode.NETWORK_EXCEPTION, "connection closed by this side"))
    finally:
        await trio.aclose_forcefully(stream)

