"""A pool of connections, one per destination, with reconnect and backoff.

Usage (the Raft transport, replica fetchers)::

    async with open_pool(cluster_id=cid, kind="peer", node_id=1,
                         limits=NetLimits(), rng=random.Random(seed)) as pool:
        pool.send_oneway_nowait(("127.0.0.1", 9293), AppendEntries(...))
        reply = await pool.call("127.0.0.1:9293", FetchRequest(...), timeout_s=1.0)

Each destination (``(host, port)`` or ``"host:port"``) gets, on first use, a
background task that keeps one connection open: it connects, drains the
destination's one-way queue, and when the connection is lost or cannot be
made waits an exponential backoff with jitter (``Backoff``, seeded by the
injected ``rng``) and tries again, forever, until the pool closes.

- ``send_oneway_nowait`` never blocks: it appends to a bounded queue
  (``pool_queue_max``); when full the *oldest* message is dropped and counted
  (for Raft a newer message supersedes an older one). Messages queued while
  disconnected go out after the next connect; messages in flight when a
  connection breaks may be lost (one-way is best effort; Raft retries).
- ``call`` waits (within ``timeout_s``) for the destination's connection and
  makes the call on it. If a connect attempt fails meanwhile it raises
  ``NotSentError`` (NETWORK_EXCEPTION; the request surely was not sent), so
  callers can try another node at once; a handshake refusal keeps its code
  (INCONSISTENT_CLUSTER_ID, UNSUPPORTED_VERSION, INVALID_REQUEST) and is a
  ``HandshakeRefusedError``: definite, not worth retrying at that address.
- At most ``pool_destinations_max`` destinations.
"""

from __future__ import annotations

import random
from collections import deque
from contextlib import asynccontextmanager
from typing import AsyncIterator

import structlog
import trio

from rafka.netproto.backoff import Backoff
from rafka.netproto.connection import Connection, HandshakeRefusedError, NotSentError, open_connection
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.framing import FrameError
from rafka.netproto.limits import NetLimits
from rafka.netproto.addresses import Addr, as_addr
from rafka.netproto.nursery import open_background_nursery
from rafka.netproto.schema import InvalidMessage, Message

_log = structlog.get_logger("netproto.pool")

_RETRIABLE_CONNECT_CODES = frozenset({ErrorCode.NETWORK_EXCEPTION, ErrorCode.REQUEST_TIMED_OUT,
                                      ErrorCode.CORRUPT_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE})


def parse_addr(addr: "str | Addr") -> Addr:
    """``"host:port"`` or ``(host, port)`` -> ``(host, port)`` (netproto.addresses
    rules); AddressError, a ValueError, for anything else."""
    return as_addr(addr)


class _Destination:
    __slots__ = ("addr", "queue", "dropped", "wake", "conn", "changed", "connect_failures",
                 "last_error", "connected_once")

    def __init__(self, addr: Addr, queue_max: int) -> None:
        self.addr = addr
        self.queue: deque[Message] = deque()
        self.dropped = 0
        self.wake = trio.Event()  # set when the queue gains items or the connection closes
        self.conn: Connection | None = None
        self.changed = trio.Event()  # set (then replaced) on connect / connect failure
        self.connect_failures = 0
        self.last_error: RafkaError | None = None
        self.connected_once = False

    def notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


class Pool:
    """See the module docstring. Made by ``open_pool``."""

    def __init__(self, nursery: trio.Nursery, *, cluster_id: str | None, kind: str, node_id: int | None,
                 limits: NetLimits, rng: random.Random) -> None:
        self._nursery = nursery
        self.cluster_id = cluster_id
        self.kind = kind
        self.node_id = node_id
        self.limits = limits
        self.rng = rng
        self._dests: dict[Addr, _Destination] = {}

    def send_oneway_nowait(self, addr: str | Addr, msg: Message) -> bool:
        """Queue ``msg`` for ``addr``; False if this dropped the oldest
        queued message to make room."""
        dest = self._dest(addr)
        dropped = len(dest.queue) >= self.limits.pool_queue_max
        if dropped:
            dest.queue.popleft()
            dest.dropped += 1
        dest.queue.append(msg)
        dest.wake.set()
        return not dropped

    async def call(self, addr: str | Addr, msg: Message, timeout_s: float) -> Message:
        """A request/response call to ``addr`` (see the module docstring)."""
        dest = self._dest(addr)
        deadline = trio.current_time() + timeout_s
        with trio.move_on_at(deadline):
            while dest.conn is None or dest.conn.closed:
                failures = dest.connect_failures
                await dest.changed.wait()
                if dest.conn is None and dest.connect_failures != failures:
                    last = dest.last_error
                    if isinstance(last, HandshakeRefusedError):
                        # A definite refusal (e.g. INCONSISTENT_CLUSTER_ID) keeps its code.
                        raise HandshakeRefusedError(last.code, f"{_fmt(dest.addr)} refused: {last.message}")
                    if last is not None and last.code not in _RETRIABLE_CONNECT_CODES:
                        raise RafkaError(last.code, f"{_fmt(dest.addr)} refused: {last.message}")
                    raise NotSentError(f"cannot reach {_fmt(dest.addr)}: {last}")
        conn = dest.conn
        if conn is None or conn.closed:
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, f"no connection to {_fmt(dest.addr)} within {timeout_s}s")
        return await conn.call(msg, max(0.0, deadline - trio.current_time()))

    def connection(self, addr: str | Addr) -> Connection | None:
        """The open connection to ``addr``, if any (e.g. for its server ids)."""
        dest = self._dests.get(parse_addr(addr))
        return dest.conn if dest is not None and dest.conn is not None and not dest.conn.closed else None

    def stats(self) -> dict[str, dict]:
        return {
            _fmt(a): {"connected": self.connection(a) is not None, "queued": len(d.queue), "dropped": d.dropped,
                      "connect_failures": d.connect_failures}
            for a, d in self._dests.items()
        }

    def _dest(self, addr: str | Addr) -> _Destination:
        key = parse_addr(addr)
        dest = self._dests.get(key)
        if dest is None:
            if len(self._dests) >= self.limits.pool_destinations_max:
                raise RafkaError(ErrorCode.INVALID_REQUEST,
                                 f"pool_destinations_max={self.limits.pool_destinations_max} reached")
            dest = self._dests[key] = _Destination(key, self.limits.pool_queue_max)
            self._nursery.start_soon(self._run_destination, dest)
        return dest

    async def _run_destination(self, dest: _Destination) -> None:
        backoff = Backoff(self.limits.backoff_initial_ms, self.limits.backoff_max_ms, self.rng)
        log = _log.bind(node_id=self.node_id, dest=_fmt(dest.addr))
        while True:
            try:
                async with open_connection(dest.addr[0], dest.addr[1], cluster_id=self.cluster_id, kind=self.kind,
                                           node_id=self.node_id, limits=self.limits) as conn:
                    backoff.reset()
                    dest.conn = conn
                    conn.on_close.append(lambda: dest.wake.set())
                    if not dest.connected_once or dest.last_error is not None:
                        log.info("netproto.pool_connected", server_node_id=conn.server_node_id)
                    dest.connected_once = True
                    dest.last_error = None
                    dest.notify()
                    await self._drain(dest, conn, log)
                    if dest.last_error is None:
                        dest.last_error = conn.close_reason
                        log.info("netproto.pool_disconnected", reason=str(conn.close_reason))
            except RafkaError as err:
                if dest.last_error is None:  # log transitions, not every retry
                    log.info("netproto.pool_connect_failed", code=err.code.name, reason=err.message)
                dest.last_error = err
                dest.connect_failures += 1
            except Exception as exc:  # a bug; keep the pool (and the node) alive
                log.exception("netproto.pool_destination_failed")
                dest.last_error = RafkaError(ErrorCode.NETWORK_EXCEPTION, f"{type(exc).__name__}: {exc}")
                dest.connect_failures += 1
            finally:
                dest.conn = None
            dest.notify()
            await trio.sleep(backoff.next_delay_ms() / 1000)

    async def _drain(self, dest: _Destination, conn: Connection, log) -> None:
        # Queued messages go to the connection's send queue without yielding
        # in between, so its writer sends them in one write (coalescing);
        # only a full send queue makes this wait.
        while not conn.closed:
            while dest.queue and not conn.closed:
                msg = dest.queue.popleft()
                try:
                    if not conn.send_oneway_nowait(msg):
                        await conn.send_oneway(msg)
                except (InvalidMessage, FrameError) as err:  # a sender bug: drop just this message
                    log.error("netproto.pool_bad_message", type=msg.TYPE, code=err.code.name, reason=err.message)
                except NotSentError:
                    # Surely not sent: keep it for the next connection.
                    if len(dest.queue) < self.limits.pool_queue_max:
                        dest.queue.appendleft(msg)
                    return
            dest.wake = trio.Event()
            if dest.queue or conn.closed:
                continue
            await dest.wake.wait()


def _fmt(addr: Addr) -> str:
    return f"{addr[0]}:{addr[1]}"


@asynccontextmanager
async def open_pool(*, cluster_id: str | None, kind: str, node_id: int | None = None,
                    limits: NetLimits | None = None, rng: random.Random | None = None) -> AsyncIterator[Pool]:
    """Yield a ``Pool``; every connection and task ends on exit."""
    async with open_background_nursery() as nursery:
        yield Pool(nursery, cluster_id=cluster_id, kind=kind, node_id=node_id,
                   limits=limits or NetLimits(), rng=rng or random.Random())
