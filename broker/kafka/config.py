"""Limits and timings of the Kafka listener (one name per setting, from
node.toml's `[kafka]` table to the code that reads it)."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class KafkaListenerConfig:
    # Kafka's socket.request.max.bytes: a frame announcing more is refused
    # (the connection closes) before any of its body is buffered.
    socket_request_bytes_max: int = 100 * MIB
    # Requests read from one connection and not yet answered; the reader
    # stops reading (TCP backpressure) at this many.
    requests_in_flight_max: int = 64
    # Kafka's connections.max.idle.ms: a connection with nothing in flight
    # that sends nothing for this long is closed.
    connections_idle_ms_max: int = 600_000
    # Open client connections; more are accepted and closed at once.
    connections_max: int = 1024
    # Bytes read from the socket per receive call.
    receive_bytes_max: int = 64 * 1024
    # Kafka's queued.max.request.bytes: request bytes read and not yet
    # answered, summed over all connections of the listener (memory_pool.py).
    # A connection whose next request does not fit stops reading until
    # answers free enough; a request larger than this closes its connection.
    # Kafka's default is unbounded (-1); 500 MiB holds five requests of the
    # largest size a connection accepts (socket_request_bytes_max) at once,
    # yet keeps a flood of pipelined produce from taking the node's memory.
    requests_queued_bytes_max: int = 500 * MIB
    # Encoded answers kept for reuse while the metadata image stays the
    # same (answer_cache.py): Metadata polled again and again.
    answers_cached_bytes_max: int = 16 * MIB
    # Topic auto-creation on Metadata (Kafka's auto.create.topics.enable).
    auto_create_topics: bool = True
    default_partitions: int = 1
    default_replication_factor: int = 1

    def __post_init__(self) -> None:
        for name in ("socket_request_bytes_max", "requests_in_flight_max", "connections_idle_ms_max",
                     "connections_max", "receive_bytes_max", "requests_queued_bytes_max",
                     "answers_cached_bytes_max", "default_partitions",
                     "default_replication_factor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"kafka listener: {name} must be an int >= 1, got {value!r}")
