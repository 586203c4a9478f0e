"""A cuttable TCP proxy for one directed link, run in the test's trio nursery.

Why: to partition a node without root, each node reaches every other node
only through the voters table of its config; the fixture points that table at
one proxy per directed link (i -> j). Cutting a link closes its live
connections and refuses new ones until it is healed, so no byte crosses it.
"""

from __future__ import annotations

import trio

COPY_BYTES_MAX = 64 * 1024


class LinkProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port: int | None = None
        self.cut_flag = False
        self._scopes: set[trio.CancelScope] = set()

    async def start(self, nursery: trio.Nursery) -> int:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        nursery.start_soon(trio.serve_listeners, self._handle, listeners)
        return self.port

    def cut(self) -> None:
        """Drop every live connection and refuse new ones until heal()."""
        self.cut_flag = True
        for scope in list(self._scopes):
            scope.cancel()

    def heal(self) -> None:
        self.cut_flag = False

    async def _handle(self, inbound: trio.SocketStream) -> None:
        async with inbound:
            if self.cut_flag:
                return
            try:
                outbound = await trio.open_tcp_stream(*self.target)
            except OSError:
                return
            async with outbound:
                with trio.CancelScope() as scope:
                    self._scopes.add(scope)
                    try:
                        async with trio.open_nursery() as nursery:
                            nursery.start_soon(self._pipe, inbound, outbound, scope)
                            nursery.start_soon(self._pipe, outbound, inbound, scope)
                    finally:
                        self._scopes.discard(scope)

    @staticmethod
    async def _pipe(src: trio.SocketStream, dst: trio.SocketStream, scope: trio.CancelScope):
        try:
            while True:
                data = await src.receive_some(COPY_BYTES_MAX)
                if not data:
                    break
                await dst.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        scope.cancel()
