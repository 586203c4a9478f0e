"""Coordinator settings (node.toml [group]); names follow Kafka's broker
configs with units last."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GroupConfig:
    # offsets.topic.num.partitions / replication factor cap (min(3, brokers)).
    offsets_topic_num_partitions: int = 50
    offsets_topic_replication_factor_max: int = 3
    # group.min/max.session.timeout.ms
    session_timeout_min_ms: int = 6_000
    session_timeout_max_ms: int = 1_800_000
    # group.initial.rebalance.delay.ms (an empty group waits this long for
    # more members before its first generation, extended per join up to
    # the rebalance timeout).
    initial_rebalance_delay_ms: int = 3_000
    # offsets.retention.minutes (7 days) and its check interval.
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000
    offsets_retention_check_interval_ms: int = 600_000
    # offset.metadata.max.bytes
    offset_metadata_bytes_max: int = 4096
    # Bounds (group.max.size and friends).
    members_max: int = 1000            # members of one group (GROUP_MAX_SIZE_REACHED)
    pending_members_max: int = 1000    # member ids handed out, not yet joined (per group)
    groups_max: int = 100_000          # groups of one coordinator partition
    offsets_max: int = 1_000_000       # committed partitions of one coordinator partition
    commit_partitions_max: int = 100_000  # partitions in one OffsetCommit
    # acks=all write timeout (offsets.commit.timeout.ms)
    commit_timeout_ms: int = 5_000
    # Replay read size per fetch.
    load_fetch_bytes_max: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"group {name} must be a non-negative int")
            if value == 0 and name not in ("initial_rebalance_delay_ms",):
                raise ValueError(f"group {name} must be positive")
