"""The Kafka listener: accept connections, serve each (connection.py).

`run` binds, reports the bound port through `task_status`, and serves
until cancelled. At most `connections_max` connections are open; one more
is accepted and closed at once (one log line). Its connections share one
memory pool for queued request bytes (memory_pool.py) and one cache of
encoded answers (answer_cache.py).
"""

from __future__ import annotations

import functools

import structlog
import trio

from rafka.broker.kafka.answer_cache import AnswerCache
from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.kafka.connection import ConnectionStats, serve_connection
from rafka.broker.kafka.context import BrokerView
from rafka.broker.kafka.legacy_bridge import is_legacy, relay
from rafka.broker.kafka.memory_pool import RequestMemory

log = structlog.get_logger("rafka.kafka")


class KafkaListener:
    def __init__(self, broker: BrokerView, host: str, port: int, config: KafkaListenerConfig | None = None,
                 legacy_target=None) -> None:
        """`legacy_target()`: (host, port) of this node's rafka client
        listener, or None; connections speaking that protocol are relayed
        there (legacy_bridge.py)."""
        self.broker = broker
        self.host = host
        self.port = port
        self.config = config or broker.config
        self.stats = ConnectionStats()
        # Shared by every connection of this listener.
        self.answers = AnswerCache(self.config.answers_cached_bytes_max)
        self.memory = RequestMemory(self.config.requests_queued_bytes_max)
        self.log = log.bind(node_id=broker.node_id)
        self.bound_port: int | None = None
        self.legacy_target = legacy_target

    async def _on_connection(self, stream: trio.SocketStream) -> None:
        stats = self.stats
        stats.accepted += 1
        if stats.open >= self.config.connections_max:
            stats.refused += 1
            self.log.warning("kafka.connection_refused", reason="connections_max",
                             connections_max=self.config.connections_max)
            await trio.aclose_forcefully(stream)
            return
        stats.open += 1
        try:
            prefix = b""
            if self.legacy_target is not None:
                prefix = await self._read_prefix(stream)
                target = self.legacy_target()
                if prefix is None:
                    await trio.aclose_forcefully(stream)
                    return
                if is_legacy(prefix) and target is not None:
                    async with stream:
                        await relay(stream, prefix, target)
                    return
            await serve_connection(stream, self.broker, self.config, stats, self.log, prefix,
                                   cache=self.answers, memory=self.memory)
        finally:
            stats.open -= 1

    async def _read_prefix(self, stream: trio.SocketStream) -> bytes | None:
        """At least 5 bytes (or whatever came before EOF); None when the
        client sent nothing within the idle limit or the socket broke."""
        prefix = b""
        with trio.move_on_after(self.config.connections_idle_ms_max / 1000):
            try:
                while len(prefix) < 5:
                    data = await stream.receive_some(self.config.receive_bytes_max)
                    if not data:
                        return prefix
                    prefix += data
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return None
            return prefix
        return None

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        self.bound_port = listeners[0].socket.getsockname()[1]
        self.log.info("kafka.listening", host=self.host, port=self.bound_port)
        await trio.serve_listeners(functools.partial(KafkaListener._on_connection, self), listeners,
                                   task_status=_PortStatus(task_status, self.bound_port))


class _PortStatus:
    """Report the bound port (not the listener objects) to nursery.start."""

    def __init__(self, task_status, port: int) -> None:
        self._task_status = task_status
        self._port = port

    def started(self, value=None) -> None:
        self._task_status.started(self._port)
