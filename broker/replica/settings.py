"""Replica settings: the broker-wide ReplicaConfig (node.toml [replica])
and one topic's effective settings parsed from its configs (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rafka.log.config import LogConfig
from rafka.log.segment_handles import SEGMENT_HANDLES_OPEN_MAX_DEFAULT
from rafka.netproto.errors import ErrorCode, RafkaError

DEFAULT_MAX_MESSAGE_BYTES = 1048588
# The log itself accepts batches up to this; max.message.bytes (checked by
# produce validation) is the per-topic limit, so altering it needs no reopen.
LOG_BATCH_BYTES_MAX = 64 * 1024 * 1024


@dataclass(frozen=True)
class ReplicaConfig:
    # Kafka's replica.lag.time.max.ms: an ISR follower not caught up this
    # long is removed from the ISR.
    lag_time_max_ms: int = 30_000
    # Follower fetch long poll and per-partition / per-request sizes.
    fetch_wait_max_ms: int = 500
    fetch_partition_bytes_max: int = 1024 * 1024
    fetch_response_bytes_max: int = 10 * 1024 * 1024
    # Bounds of in-memory state.
    ack_waiters_max: int = 10_000          # acks=all appends waiting per partition
    producers_max: int = 10_000            # idempotent producer ids per partition
    producer_state_scan_bytes_max: int = 64 * 1024 * 1024  # log tail read to rebuild producer state
    deletes_pending_max: int = 10_000      # renamed-aside dirs waiting for removal
    retention_check_interval_ms: int = 300_000
    alter_partition_timeout_ms: int = 5_000
    # A partition whose AlterPartition failed waits before proposing again:
    # one ISR tick, doubling per failure up to this (alter_backoff.py).
    alter_partition_backoff_max_ms: int = 8_000
    # Kafka's replica.high.watermark.checkpoint.interval.ms: how often each
    # log dir's replication-offset-checkpoint is rewritten (hw_checkpoint.py).
    hw_checkpoint_interval_ms: int = 5_000
    # Kafka's max.incremental.fetch.session.cache.slots: consumer fetch
    # sessions (KIP-227) this broker keeps (fetch_sessions.py).
    fetch_sessions_max: int = 1000
    fetcher_partitions_max: int = 10_000   # partitions one fetcher request may carry
    # Log compaction (broker/replica/cleaner.py): how often the cleaner looks
    # for cleanable compacted partitions (Kafka's log.cleaner.backoff.ms),
    # the keys one pass may map and the segments one pass may rewrite.
    cleaner_interval_ms: int = 15_000
    cleaner_key_map_entries_max: int = 1_000_000
    cleaner_segments_per_pass_max: int = 8
    # Open segment files of all this broker's partition logs (idle, fsynced
    # ones are closed least recently used first and reopened on demand;
    # log/segment_handles.py). Kafka relies on the OS limit instead.
    segment_handles_open_max: int = SEGMENT_HANDLES_OPEN_MAX_DEFAULT

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"replica {name} must be a positive int")


@dataclass(frozen=True)
class TopicSettings:
    """What the replica layer reads of a topic's configs."""

    min_insync_replicas: int = 1
    write_caching: bool = False
    log_append_time: bool = False
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES


def _int(configs: dict[str, str], key: str, default: int) -> int:
    try:
        return int(configs.get(key, default))
    except ValueError:
        raise RafkaError(ErrorCode.INVALID_CONFIG, f"{key}={configs[key]!r} is not an integer") from None


def topic_settings(configs: dict[str, str]) -> TopicSettings:
    return TopicSettings(
        min_insync_replicas=_int(configs, "min.insync.replicas", 1),
        write_caching=configs.get("write.caching", "false").lower() == "true",
        log_append_time=configs.get("message.timestamp.type", "CreateTime") == "LogAppendTime",
        max_message_bytes=_int(configs, "max.message.bytes", DEFAULT_MAX_MESSAGE_BYTES),
    )


def log_config(configs: dict[str, str], base: LogConfig | None = None) -> LogConfig:
    """The LogConfig of a topic: segment and retention settings from its
    configs; max.message.bytes is enforced by produce validation instead."""
    cfg = (base or LogConfig()).with_topic_configs(
        {k: v for k, v in configs.items() if k != "max.message.bytes"})
    if "delete" not in configs.get("cleanup.policy", "delete").split(","):
        # cleanup.policy=compact alone: nothing ages out, the cleaner keeps
        # the latest record per key (broker/replica/cleaner.py).
        cfg = replace(cfg, retention_ms=-1, retention_bytes=-1)
    return replace(cfg, batch_bytes_max=LOG_BATCH_BYTES_MAX)
