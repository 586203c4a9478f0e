"""NetLimits: every bound of the network layer in one place.

Why: an unbounded buffer is a memory leak waiting for a slow or hostile peer.
Every queue, window, frame and deadline of netproto is a named ``*_max`` /
``*_ms`` setting here, passed explicitly to servers, connections and pools.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class NetLimits:
    # Largest frame payload accepted or sent (bytes).
    frame_bytes_max: int = 16 * 1024 * 1024
    # Requests awaiting a response per connection (client: concurrent calls;
    # server: concurrently running request handlers).
    in_flight_max: int = 64
    # Frames waiting to be written per connection.
    send_queue_max: int = 256
    # Open connections per server listener; more are accepted and closed.
    connections_max: int = 1024
    # One-way messages queued per pool destination; the oldest is dropped.
    pool_queue_max: int = 1024
    # Destinations one pool keeps (each has a task and a queue).
    pool_destinations_max: int = 256
    # msgpack decoder bounds (per frame).
    msgpack_str_len_max: int = 1024 * 1024
    msgpack_array_len_max: int = 1_000_000
    msgpack_map_len_max: int = 100_000
    # Deadlines.
    connect_timeout_ms: int = 3000
    handshake_timeout_ms: int = 3000
    # A frame that has started must be complete within this time.
    partial_frame_timeout_ms: int = 10_000
    # A server closes a connection with no request in flight and no bytes
    # received for this long.
    idle_timeout_ms: int = 600_000
    # After a fatal error frame, how long we try to deliver it before closing.
    close_linger_ms: int = 500
    # Reconnect backoff (exponential with jitter).
    backoff_initial_ms: int = 50
    backoff_max_ms: int = 2000
    # Bytes asked per socket read.
    read_chunk_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or value <= 0:
                raise ValueError(f"NetLimits.{f.name} must be a positive int, got {value!r}")
        if self.backoff_max_ms < self.backoff_initial_ms:
            raise ValueError("NetLimits.backoff_max_ms must be >= backoff_initial_ms")
