"""Validation of admin requests, with Kafka's error codes.

Every function raises `RafkaError` with the Kafka code a Kafka client would
see and returns canonical values; callers emit records only after every
check of an item has passed, so a rejected request changes nothing.

Topic configs: each known key has a parser that checks type and range and
returns the canonical string stored in ConfigRecord (e.g. "TRUE" -> "true").
Unknown keys are rejected (INVALID_CONFIG), like Kafka.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from rafka.netproto.errors import ErrorCode, RafkaError

TOPIC_NAME_LENGTH_MAX = 249
_TOPIC_NAME_RE = re.compile(r"[a-zA-Z0-9._-]+")
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

MIN_INSYNC_REPLICAS = "min.insync.replicas"
UNCLEAN_LEADER_ELECTION = "unclean.leader.election.enable"


def validate_topic_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise RafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, "topic name is empty")
    if name in (".", ".."):
        raise RafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, f"topic name cannot be {name!r}")
    if len(name) > TOPIC_NAME_LENGTH_MAX:
        raise RafkaError(
            ErrorCode.INVALID_TOPIC_EXCEPTION,
            f"topic name is {len(name)} characters, at most {TOPIC_NAME_LENGTH_MAX} allowed",
        )
    if not _TOPIC_NAME_RE.fullmatch(name):
        raise RafkaError(
            ErrorCode.INVALID_TOPIC_EXCEPTION,
            f"topic name {name!r} has characters outside [a-zA-Z0-9._-]",
        )
    return name


def collision_key(name: str) -> str:
    """Kafka folds '.' into '_' in metric names, so two topics whose names
    differ only there would share metrics: such names collide."""
    return name.replace(".", "_")


def check_topic_collision(name: str, existing_by_key: dict[str, str]) -> None:
    """Raise INVALID_TOPIC_EXCEPTION when `name` collides with another topic
    (`existing_by_key`: collision_key -> name). An identical name is not a
    collision (that is TOPIC_ALREADY_EXISTS, checked before)."""
    other = existing_by_key.get(collision_key(name))
    if other is not None and other != name:
        raise RafkaError(
            ErrorCode.INVALID_TOPIC_EXCEPTION,
            f"topic {name!r} collides with existing topic {other!r} "
            "('.' and '_' collide in metric names)",
        )


def validate_partition_count(count: int, partitions_max: int) -> int:
    if type(count) is not int or count < 1:
        raise RafkaError(ErrorCode.INVALID_PARTITIONS, f"partitions must be >= 1, got {count}")
    if count > partitions_max:
        raise RafkaError(
            ErrorCode.INVALID_PARTITIONS, f"partitions {count} above the limit {partitions_max}"
        )
    return count


def validate_replication_factor(rf: int, eligible_brokers: int, rf_max: int) -> int:
    if type(rf) is not int or rf < 1:
        raise RafkaError(
            ErrorCode.INVALID_REPLICATION_FACTOR, f"replication factor must be >= 1, got {rf}"
        )
    if rf > rf_max:
        raise RafkaError(
            ErrorCode.INVALID_REPLICATION_FACTOR, f"replication factor {rf} above the limit {rf_max}"
        )
    if rf > eligible_brokers:
        raise RafkaError(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            f"replication factor {rf} larger than the {eligible_brokers} available brokers",
        )
    return rf


# ------------------------------------------------------------------ configs
@dataclass(frozen=True)
class ConfigDef:
    key: str
    parse: Callable[[str], str]  # raises ValueError with a reason
    default: str
    doc: str


def _long(lo: int, hi: int = INT64_MAX) -> Callable[[str], str]:
    def parse(value: str) -> str:
        try:
            n = int(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an integer") from None
        if not lo <= n <= hi:
            raise ValueError(f"{n} outside [{lo}, {hi}]")
        return str(n)

    return parse


def _bool(value: str) -> str:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise ValueError(f"{value!r} is not true or false")
    return v


def _choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in options:
            raise ValueError(f"{value!r} is not one of {', '.join(options)}")
        return value

    return parse


def _cleanup_policy(value: str) -> str:
    """Kafka's list: delete, compact, or both (canonical "compact,delete")."""
    parts = {p.strip() for p in value.split(",")}
    if not parts or not parts <= {"delete", "compact"}:
        raise ValueError(f"{value!r} is not delete, compact or compact,delete")
    return ",".join(sorted(parts))


def _ratio(value: str) -> str:
    try:
        x = float(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{x} outside [0, 1]")
    return repr(x)


TOPIC_CONFIGS: dict[str, ConfigDef] = {
    d.key: d
    for d in (
        ConfigDef("retention.ms", _long(-1), "604800000", "keep data this long (-1: forever)"),
        ConfigDef("retention.bytes", _long(-1), "-1", "per-partition size bound (-1: none)"),
        ConfigDef("segment.bytes", _long(1024, INT32_MAX), "1073741824", "roll segments at this size"),
        ConfigDef("segment.ms", _long(1), "604800000", "roll segments at this age"),
        ConfigDef(MIN_INSYNC_REPLICAS, _long(1, INT32_MAX), "1", "ISR size acks=all needs"),
        ConfigDef(UNCLEAN_LEADER_ELECTION, _bool, "false", "may elect an out-of-sync replica"),
        ConfigDef("max.message.bytes", _long(0, INT32_MAX), "1048588", "largest batch accepted"),
        ConfigDef("cleanup.policy", _cleanup_policy, "delete",
                  "delete (retention), compact (latest record per key) or both"),
        ConfigDef("delete.retention.ms", _long(0), "86400000",
                  "how long compaction keeps a tombstone (a null value) before removing it"),
        ConfigDef("min.cleanable.dirty.ratio", _ratio, "0.5",
                  "compact once this share of the sealed log is not cleaned yet"),
        ConfigDef("flush.messages", _long(1), str(INT64_MAX), "fsync after this many records"),
        ConfigDef("flush.ms", _long(0), str(INT64_MAX), "fsync after this long"),
        ConfigDef("message.timestamp.type", _choice("CreateTime", "LogAppendTime"), "CreateTime",
                  "which timestamp a record keeps"),
        ConfigDef("index.interval.bytes", _long(0, INT32_MAX), "4096", "offset index density"),
        ConfigDef("write.caching", _bool, "false",
                  "acknowledge acks=all once in the ISR replicas' memory, before fsync (Redpanda's name)"),
    )
}


def validate_config_value(key: str, value: str) -> str:
    d = TOPIC_CONFIGS.get(key)
    if d is None:
        raise RafkaError(ErrorCode.INVALID_CONFIG, f"unknown topic config {key!r}")
    if not isinstance(value, str):
        raise RafkaError(ErrorCode.INVALID_CONFIG, f"{key}: value must be a string")
    try:
        return d.parse(value)
    except ValueError as exc:
        raise RafkaError(ErrorCode.INVALID_CONFIG, f"{key}: {exc}") from None


def validate_configs(
    changes: dict[str, str | None], current: dict[str, str], replication_factor: int
) -> dict[str, str | None]:
    """Check set (str) / delete (None) changes against the topic's current
    configs; returns canonical changes. Cross-key rule: min.insync.replicas
    may not exceed the replication factor (such a topic could never accept
    an acks=all write), so that is rejected rather than warned about."""
    out: dict[str, str | None] = {}
    for key in sorted(changes):
        value = changes[key]
        if value is None:
            if key not in TOPIC_CONFIGS:
                raise RafkaError(ErrorCode.INVALID_CONFIG, f"unknown topic config {key!r}")
            out[key] = None
        else:
            out[key] = validate_config_value(key, value)
    merged = {**current, **out}
    min_isr = merged.get(MIN_INSYNC_REPLICAS)
    if min_isr is not None and int(min_isr) > replication_factor:
        raise RafkaError(
            ErrorCode.INVALID_CONFIG,
            f"{MIN_INSYNC_REPLICAS}={min_isr} exceeds the replication factor {replication_factor}",
        )
    return out


def config_value(configs: dict[str, str], key: str) -> str:
    """A topic's effective value of `key` (its override or the default)."""
    value = configs.get(key)
    return value if value is not None else TOPIC_CONFIGS[key].default


def unclean_election_enabled(configs: dict[str, str]) -> bool:
    return configs.get(UNCLEAN_LEADER_ELECTION) == "true"
