"""ClusterClient: call "any reachable node" of a cluster (for the CLI and
tests).

Usage::

    async with open_cluster_client("127.0.0.1:9192,127.0.0.1:9193") as client:
        reply = await client.call(DescribeQuorum(), timeout_s=5.0)
        client.cluster_id   # learned from the server's handshake reply

``call`` tries the bootstrap addresses in turn, starting with the last one
that worked, and moves to the next one only when the request surely was not
sent (``NotSentError``: connect refused, or the connection was already
closed) or the node refused the handshake (``HandshakeRefusedError``: wrong
listener kind, cluster id or version; raised when no address answers).
Other errors are raised as they are: an error response with the
server's code, REQUEST_TIMED_OUT, or NETWORK_EXCEPTION when a connection is
lost after sending (the request may have happened: retrying it elsewhere
could apply it twice). When every address fails, the last NotSentError is
raised. The whole call, retries included, is bounded by ``timeout_s``.

With ``cluster_id=None`` (the default) the handshake accepts any cluster.
"""

from __future__ import annotations

import random
from contextlib import asynccontextmanager
from typing import AsyncIterator, Iterable

import trio

from rafka.netproto import addresses
from rafka.netproto.connection import HandshakeRefusedError, NotSentError
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.handshake import KIND_CLIENT
from rafka.netproto.limits import NetLimits
from rafka.netproto.pool import Addr, Pool, open_pool
from rafka.netproto.schema import Message


def parse_bootstrap(bootstrap: str | Iterable[str | Addr]) -> list[Addr]:
    """``"h:p,h:p"`` (or a list of addresses) -> ``[(h, p), ...]`` (the
    netproto.addresses rules); ValueError when empty or malformed."""
    return [hp.addr for hp in addresses.parse_bootstrap(bootstrap)]


class ClusterClient:
    def __init__(self, pool: Pool, addrs: list[Addr]) -> None:
        self.pool = pool
        self.addrs = addrs
        self._current = 0
        self.cluster_id: str | None = pool.cluster_id
        self.last_node_id: int | None = None

    async def call(self, msg: Message, timeout_s: float) -> Message:
        deadline = trio.current_time() + timeout_s
        last: RafkaError | None = None
        refused: HandshakeRefusedError | None = None
        for step in range(len(self.addrs)):
            index = (self._current + step) % len(self.addrs)
            remaining = deadline - trio.current_time()
            if remaining <= 0:
                break
            try:
                reply = await self.call_node(self.addrs[index], msg, remaining)
            except HandshakeRefusedError as err:
                refused = err
                continue
            except NotSentError as err:
                last = err
                continue
            self._current = index
            return reply
        if refused is not None:
            raise refused  # definite and more telling than "cannot reach"
        if last is None:
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, f"{msg.TYPE} timed out after {timeout_s}s")
        raise last

    async def call_node(self, addr: str | Addr, msg: Message, timeout_s: float) -> Message:
        """Call one given node (e.g. the leader named in an error)."""
        reply = await self.pool.call(addr, msg, timeout_s)
        conn = self.pool.connection(addr)
        if conn is not None:
            self.cluster_id = conn.server_cluster_id
            self.last_node_id = conn.server_node_id
        return reply


@asynccontextmanager
async def open_cluster_client(bootstrap: str | Iterable[str | Addr], *, cluster_id: str | None = None,
                              limits: NetLimits | None = None,
                              rng: random.Random | None = None) -> AsyncIterator[ClusterClient]:
    addrs = parse_bootstrap(bootstrap)
    async with open_pool(cluster_id=cluster_id, kind=KIND_CLIENT, node_id=None, limits=limits, rng=rng) as pool:
        yield ClusterClient(pool, addrs)
