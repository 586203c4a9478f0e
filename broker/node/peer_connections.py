"""Which peers' processes look gone, from the peer listener's connections.

Why: a kill -9 closes every socket of the killed process at once, so the
peer listener of the active controller sees the broker's connections end
(EOF or reset) long before its heartbeats could be missed for a whole
session timeout. This tracker turns the listener's connection events
(netproto's ConnectionObserver) into one signal per node id: `on_gone(node_id)`
when the last open inbound "peer" connection of that node was ended by the
peer. The controller (broker/controller) decides what that means: it fences
the broker after `session_lost_grace_ms` unless a heartbeat comes first.

A connection this node closed (idle or partial-frame timeout, bad frame,
shutdown) is not a sign of death and only lowers the count. A broker that is
slow (SIGSTOP, a loaded machine) keeps its sockets open and gets the full
session timeout. Tools (kind "client") are ignored.

`gone()` lists nodes whose connections are all closed, the last by the peer:
a controller activated later (its predecessor was killed) starts
those with a lost connection. Bounded: at most `peers_tracked_max` node ids.
"""

from __future__ import annotations

from typing import Callable

import structlog
import trio

from rafka.netproto.handshake import KIND_PEER
from rafka.netproto.server import RequestContext

log = structlog.get_logger("rafka.peer_connections")

PEERS_TRACKED_MAX = 4096


class PeerConnections:
    def __init__(self, node_id: int, on_gone: Callable[[int], None] | None = None,
                 peers_tracked_max: int = PEERS_TRACKED_MAX) -> None:
        self.node_id = node_id
        self.on_gone = on_gone
        self.peers_tracked_max = peers_tracked_max
        self._open: dict[int, int] = {}  # node id -> open inbound peer connections
        self._gone_since_s: dict[int, float] = {}  # node id -> when its last one was ended by the peer

    def opened(self, ctx: RequestContext) -> None:
        if ctx.kind != KIND_PEER or ctx.node_id is None:
            return
        if ctx.node_id not in self._open and len(self._open) >= self.peers_tracked_max:
            return  # not tracked: such a peer never looks gone (the session timeout still holds)
        self._open[ctx.node_id] = self._open.get(ctx.node_id, 0) + 1
        self._gone_since_s.pop(ctx.node_id, None)

    def closed(self, ctx: RequestContext, peer_gone: bool) -> None:
        node_id = ctx.node_id
        if ctx.kind != KIND_PEER or node_id is None or node_id not in self._open:
            return
        left = self._open[node_id] - 1
        if left > 0:
            self._open[node_id] = left
            return
        del self._open[node_id]
        if not peer_gone:
            return
        if len(self._gone_since_s) >= self.peers_tracked_max:
            self._gone_since_s.pop(next(iter(self._gone_since_s)))
        self._gone_since_s[node_id] = trio.current_time()
        log.info("peer_connections.peer_gone", node_id=self.node_id, peer_node_id=node_id,
                 connection_id=ctx.connection_id)
        if self.on_gone is not None:
            self.on_gone(node_id)

    def open_count(self, node_id: int) -> int:
        return self._open.get(node_id, 0)

    def gone(self) -> list[int]:
        """Nodes with no open inbound peer connection whose last one was
        ended by the peer."""
        return sorted(self._gone_since_s)
