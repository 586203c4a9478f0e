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
from rafka.broker.kafka.memory_pool import RequestMemory

log = structlog.get_logger("rafka.kafka")


class KafkaListener:
    def __init__(self, broker: BrokerView, host: str, port: int,
                 config: KafkaListenerConfig | None = None) -> None:
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
            await serve_connection(stream, self.broker, self.config, stats, self.log,
                                   cache=self.answers, memory=self.memory)
        finally:
            stats.open -= 1

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
