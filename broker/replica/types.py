"""Inputs and outputs of the ReplicaManager's data API (plain dataclasses:
the Kafka API modules and the peer fetch handler translate to and from
their wire forms)."""

from __future__ import annotations

from dataclasses import dataclass

CONSUMER_REPLICA_ID = -1


@dataclass(frozen=True)
class AppendResult:
    base_offset: int
    last_offset: int
    log_append_time_ms: int = -1
    log_start_offset: int = 0
    duplicate: bool = False


@dataclass(frozen=True)
class FetchPartition:
    topic: str
    partition: int
    fetch_offset: int
    partition_max_bytes: int
    current_leader_epoch: int = -1
    # Follower fetches only: the offset the follower has on disk (or in
    # memory, for write.caching topics): what the leader may count.
    durable_log_end_offset: int = -1


@dataclass
class FetchResult:
    topic: str
    partition: int
    error_code: int = 0
    error_message: str | None = None
    high_watermark: int = -1
    log_start_offset: int = -1
    log_end_offset: int = -1
    records: bytes = b""
    leader_epoch: int = -1
