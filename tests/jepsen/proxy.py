"""A fault-injecting TCP proxy for one directed link (A -> B), in trio.

Why a proxy: the harness must cut, black-hole and slow links between real
node processes without root (no iptables). Every node reaches every other
node, and every client reaches every node, only through one of these, so a
fault on link A->B is a state change here.

A link is directed: proxy A->B carries the connections A opens to B (both byte
directions of those connections). Partitioning A from B means faulting both
A->B and B->A; faulting only one gives an asymmetric partition.

Modes (`LinkMode`):
- PASS: forward bytes, after `delay_ms` if set.
- DROP: refuse: new connections are closed at once, existing ones are cut.
- BLACKHOLE: accept connections, swallow every byte, deliver nothing.

Invariants: each connection holds at most `delay_chunks_max` chunks of
`chunk_bytes_max` bytes in flight; closing the proxy closes every connection.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import structlog
import trio

log = structlog.get_logger("jepsen.proxy")


class LinkMode(enum.Enum):
    PASS = "pass"
    DROP = "drop"
    BLACKHOLE = "blackhole"


@dataclass(frozen=True)
class ProxyLimits:
    chunk_bytes_max: int = 65536
    delay_chunks_max: int = 256
    connections_max: int = 256
    connect_timeout_s: float = 2.0


class LinkProxy:
    """One directed link. Start with `await nursery.start(proxy.serve)`;
    `port` is valid afterwards."""

    def __init__(
        self,
        name: str,
        target_host: str,
        target_port: int,
        *,
        listen_host: str = "127.0.0.1",
        limits: ProxyLimits = ProxyLimits(),
    ) -> None:
        self.name = name
        self.target_host = target_host
        self.target_port = target_port
        self.listen_host = listen_host
        self.limits = limits
        self.mode = LinkMode.PASS
        self.delay_ms = 0
        self.port: int | None = None
        self.bytes_forwarded = 0
        self.connections_accepted = 0
        self._conns: set[trio.CancelScope] = set()
        self._cancel: trio.CancelScope | None = None

    @property
    def address(self) -> str:
        return f"{self.listen_host}:{self.port}"

    # --- control (called from the harness's trio thread) -----------------

    def set_mode(self, mode: LinkMode) -> None:
        """Change the link's mode; DROP also cuts existing connections."""
        if mode == self.mode:
            return
        self.mode = mode
        log.debug("link_mode", link=self.name, mode=mode.value)
        if mode is LinkMode.DROP:
            self.cut()

    def set_delay(self, delay_ms: int) -> None:
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be >= 0, got {delay_ms}")
        self.delay_ms = delay_ms

    def heal(self) -> None:
        """Back to PASS with no delay. Connections black-holed meanwhile are
        cut, since their byte streams have gaps and are useless to resume."""
        had_blackhole = self.mode is LinkMode.BLACKHOLE
        self.mode = LinkMode.PASS
        self.delay_ms = 0
        if had_blackhole:
            self.cut()

    def cut(self) -> None:
        """Close every existing connection (new ones follow the mode)."""
        for scope in list(self._conns):
            scope.cancel()

    def close(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    # --- serving ---------------------------------------------------------

    async def serve(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host=self.listen_host)
        self.port = listeners[0].socket.getsockname()[1]
        with trio.CancelScope() as self._cancel:
            async with trio.open_nursery() as nursery:
                task_status.started(self.port)
                try:
                    while True:
                        stream = await listeners[0].accept()
                        self.connections_accepted += 1
                        if self.mode is LinkMode.DROP or len(self._conns) >= self.limits.connections_max:
                            await trio.aclose_forcefully(stream)
                            continue
                        nursery.start_soon(self._handle, stream)
                finally:
                    for listener in listeners:
                        await trio.aclose_forcefully(listener)

    async def _handle(self, client: trio.SocketStream) -> None:
        scope = trio.CancelScope()
        self._conns.add(scope)
        try:
            with scope:
                try:
                    with trio.fail_after(self.limits.connect_timeout_s):
                        upstream = await trio.open_tcp_stream(self.target_host, self.target_port)
                except (OSError, trio.TooSlowError):
                    return
                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._pump, client, upstream, nursery.cancel_scope)
                        nursery.start_soon(self._pump, upstream, client, nursery.cancel_scope)
                finally:
                    await trio.aclose_forcefully(upstream)
        finally:
            self._conns.discard(scope)
            await trio.aclose_forcefully(client)

    async def _pump(self, src, dst, conn_scope: trio.CancelScope) -> None:
        """Copy src -> dst through a bounded delay line. EOF is passed on as
        a half-close once the queued bytes are delivered (the other
        direction keeps flowing); an error on either side ends the whole
        connection."""
        send, recv = trio.open_memory_channel(self.limits.delay_chunks_max)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._deliver, recv, dst, conn_scope)
            async with send:
                while True:
                    try:
                        data = await src.receive_some(self.limits.chunk_bytes_max)
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                        conn_scope.cancel()
                        return
                    if not data:
                        break
                    if self.mode is not LinkMode.PASS:
                        continue  # swallowed
                    due = trio.current_time() + self.delay_ms / 1000.0
                    await send.send((due, data))
        # EOF from src and everything delivered: half-close towards dst
        try:
            await dst.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            conn_scope.cancel()

    async def _deliver(self, recv, dst, conn_scope: trio.CancelScope) -> None:
        async with recv:
            async for due, data in recv:
                wait = due - trio.current_time()
                if wait > 0 and not math.isinf(wait):
                    await trio.sleep(wait)
                if self.mode is not LinkMode.PASS:
                    continue  # faulted while in the delay line
                try:
                    await dst.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    conn_scope.cancel()
                    return
                self.bytes_forwarded += len(data)
