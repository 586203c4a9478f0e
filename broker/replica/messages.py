"""Peer-listener messages of replication (type names `replica.*`).

- FetchRequest -> FetchResponse: a follower's fetcher asks the leader for
  every partition it follows from that leader, in one request; each
  partition carries the follower's fetch offset (its log end), its durable
  log end (what the leader may count toward the HW) and the leader epoch it
  believes current (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH otherwise).
- OffsetForLeaderEpochRequest -> OffsetForLeaderEpochResponse: a new
  follower asks where the leader's log ends for its own latest epoch and
  truncates there before fetching (KIP-101/279).
Error codes are Kafka's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rafka.netproto.schema import Message, register


@register
@dataclass(frozen=True)
class ReplicaFetchPartition(Message):
    TYPE = "replica.FetchPartition"
    topic: str
    partition: int
    fetch_offset: int
    current_leader_epoch: int
    durable_log_end_offset: int
    partition_max_bytes: int


@register
@dataclass(frozen=True)
class FetchRequest(Message):
    TYPE = "replica.FetchRequest"
    replica_id: int
    max_wait_ms: int
    min_bytes: int
    max_bytes: int
    partitions: list[ReplicaFetchPartition] = field(default_factory=list)


@register
@dataclass(frozen=True)
class ReplicaFetchResult(Message):
    TYPE = "replica.FetchResult"
    topic: str
    partition: int
    error_code: int = 0
    high_watermark: int = -1
    log_start_offset: int = -1
    log_end_offset: int = -1
    records: bytes = b""
    error_message: str | None = None


@register
@dataclass(frozen=True)
class FetchResponse(Message):
    TYPE = "replica.FetchResponse"
    partitions: list[ReplicaFetchResult] = field(default_factory=list)


@register
@dataclass(frozen=True)
class EpochQuery(Message):
    TYPE = "replica.EpochQuery"
    topic: str
    partition: int
    leader_epoch: int
    current_leader_epoch: int = -1


@register
@dataclass(frozen=True)
class OffsetForLeaderEpochRequest(Message):
    TYPE = "replica.OffsetForLeaderEpochRequest"
    replica_id: int
    partitions: list[EpochQuery] = field(default_factory=list)


@register
@dataclass(frozen=True)
class EpochAnswer(Message):
    TYPE = "replica.EpochAnswer"
    topic: str
    partition: int
    error_code: int = 0
    leader_epoch: int = -1
    end_offset: int = -1


@register
@dataclass(frozen=True)
class OffsetForLeaderEpochResponse(Message):
    TYPE = "replica.OffsetForLeaderEpochResponse"
    partitions: list[EpochAnswer] = field(default_factory=list)


REPLICA_PEER_TYPES = frozenset({FetchRequest.TYPE, OffsetForLeaderEpochRequest.TYPE})
