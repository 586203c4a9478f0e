"""Settings of one partition log.

Why a frozen dataclass: a log reads its config on every append (roll and
size checks), so the values must not change under it; a topic config change
builds a new LogConfig. Every buffer the log keeps has a `*_max` bound here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from rafka.log.errors import LogError

DAY_MS = 24 * 60 * 60 * 1000
# Relative offsets and positions in the index files are 4-byte fields.
SEGMENT_BYTES_LIMIT = 2**31 - 1


class LogConfigError(LogError, ValueError):
    """A LogConfig value is out of range (or a topic config cannot be parsed)."""


@dataclass(frozen=True, slots=True)
class LogConfig:
    """Limits and policies of one log; defaults follow Kafka's.

    - segment_bytes_max: roll the active segment before it would grow past this.
    - segment_ms_max: roll a non-empty active segment this old (wall clock).
    - index_interval_bytes: add a sparse index entry after this many bytes.
    - index_bytes_max: size bound of one segment's offset index (roll when full).
    - retention_bytes: keep the log at least this big, delete older segments
      beyond it; -1 means unlimited.
    - retention_ms: delete sealed segments whose newest batch is older; -1
      means unlimited.
    - batch_bytes_max: the largest batch an append accepts.
    - write_buffer_bytes_max: the active segment gathers appends in a buffer
      of this size and writes it when full (fewer, larger write() calls);
      bigger batches go straight to the file; 0 disables buffering.
    - scan_chunk_bytes_max: read size of recovery and index rebuild scans.
    """

    segment_bytes_max: int = 1024 * 1024 * 1024
    segment_ms_max: int = 7 * DAY_MS
    index_interval_bytes: int = 4096
    index_bytes_max: int = 10 * 1024 * 1024
    retention_bytes: int = -1
    retention_ms: int = 7 * DAY_MS
    batch_bytes_max: int = 1024 * 1024 + 12
    write_buffer_bytes_max: int = 256 * 1024
    scan_chunk_bytes_max: int = 1024 * 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise LogConfigError(f"{f.name} must be an int, not {type(value).__name__}")
        if not 61 <= self.segment_bytes_max <= SEGMENT_BYTES_LIMIT:
            raise LogConfigError(
                f"segment_bytes_max {self.segment_bytes_max} outside [61, {SEGMENT_BYTES_LIMIT}]"
            )
        if self.segment_ms_max < 1:
            raise LogConfigError(f"segment_ms_max {self.segment_ms_max} must be >= 1")
        if self.index_interval_bytes < 0:
            raise LogConfigError(f"index_interval_bytes {self.index_interval_bytes} must be >= 0")
        if self.index_bytes_max < 8:
            raise LogConfigError(f"index_bytes_max {self.index_bytes_max} must be >= 8")
        if self.retention_bytes < -1 or self.retention_ms < -1:
            raise LogConfigError("retention_bytes and retention_ms must be >= -1 (-1: unlimited)")
        if self.batch_bytes_max < 61:
            raise LogConfigError(f"batch_bytes_max {self.batch_bytes_max} must be >= 61")
        if self.write_buffer_bytes_max < 0:
            raise LogConfigError("write_buffer_bytes_max must be >= 0")
        if self.scan_chunk_bytes_max < 4096:
            raise LogConfigError("scan_chunk_bytes_max must be >= 4096")

    @property
    def index_entries_max(self) -> int:
        """Offset index entries one segment may hold (8 bytes each)."""
        return self.index_bytes_max // 8

    def with_topic_configs(self, configs: dict[str, str]) -> "LogConfig":
        """Apply Kafka topic config names (segment.bytes, retention.ms, ...).

        Unknown names are ignored (they belong to other layers); a bad value
        raises LogConfigError naming the key.
        """
        changes = {}
        for key, attr in TOPIC_CONFIG_NAMES.items():
            if key in configs:
                try:
                    changes[attr] = int(configs[key])
                except (TypeError, ValueError):
                    raise LogConfigError(f"topic config {key}={configs[key]!r} is not an integer") from None
        return replace(self, **changes)


TOPIC_CONFIG_NAMES = {
    "segment.bytes": "segment_bytes_max",
    "segment.ms": "segment_ms_max",
    "segment.index.bytes": "index_bytes_max",
    "index.interval.bytes": "index_interval_bytes",
    "retention.bytes": "retention_bytes",
    "retention.ms": "retention_ms",
    "max.message.bytes": "batch_bytes_max",
}
