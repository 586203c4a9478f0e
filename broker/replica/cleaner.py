"""The log cleaner: compacts the logs of cleanup.policy=compact topics on
this broker, in the background (Kafka's LogCleaner, one thread).

Every `cleaner_interval_ms` it looks at each hosted partition (leader and
follower alike: every replica cleans its own log, as in Kafka) whose topic
has `compact` in cleanup.policy and whose dirty ratio (sealed bytes not yet
covered by a pass, over all sealed bytes) reaches min.cleanable.dirty.ratio,
and runs one bounded pass of log/compaction.clean_log in a worker thread
(at most cleaner_segments_per_pass_max segments rewritten, at most
cleaner_key_map_entries_max keys mapped). Each segment is swapped in
crash-atomically by PartitionLog.replace_segment, so a crash or a failed
pass leaves old or new segments; a failed pass is logged and retried next
time. One structlog event per pass that did something
(replica.compaction_pass) with node_id/topic/partition.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import trio

from rafka.log.compaction import clean_log, dirty_ratio
from rafka.log.errors import LogError


@dataclass(frozen=True)
class CompactionSettings:
    compact: bool = False
    delete_retention_ms: int = 86_400_000
    min_cleanable_dirty_ratio: float = 0.5


def compaction_settings(configs: dict[str, str]) -> CompactionSettings:
    """A topic's compaction settings (values already validated by the controller)."""
    return CompactionSettings(
        compact="compact" in configs.get("cleanup.policy", "delete").split(","),
        delete_retention_ms=int(configs.get("delete.retention.ms", 86_400_000)),
        min_cleanable_dirty_ratio=float(configs.get("min.cleanable.dirty.ratio", 0.5)),
    )


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


class LogCleaner:
    """Driven by the ReplicaManager (`manager.partitions`, its metadata image
    and ReplicaConfig); `now_ms` is injected for tests."""

    def __init__(self, manager, *, now_ms: Callable[[], int] = _wall_clock_ms) -> None:
        self.manager = manager
        self.now_ms = now_ms
        self.cleaned_end: dict = {}  # partition key -> offset the last pass's key map reached
        self.passes = 0

    def _settings(self, p) -> CompactionSettings:
        t = self.manager.metadata.image.topics_by_id.get(p.role.topic_id)
        return compaction_settings(dict(t.configs)) if t is not None else CompactionSettings()

    async def run(self) -> None:
        cfg = self.manager.config
        while True:
            await trio.sleep(cfg.cleaner_interval_ms / 1000)
            await self.clean_once()

    async def clean_once(self) -> int:
        """One look at every hosted partition; returns segments rewritten."""
        cfg = self.manager.config
        total = 0
        for key, p in list(self.manager.partitions.items()):
            s = self._settings(p)
            if not s.compact:
                self.cleaned_end.pop(key, None)
                continue
            try:
                sealed = p.log.sealed_segments()
                if not sealed or dirty_ratio(sealed, self.cleaned_end.get(key, 0)) < s.min_cleanable_dirty_ratio:
                    continue
                result = await trio.to_thread.run_sync(lambda: clean_log(
                    p.log, now_ms=self.now_ms(), delete_retention_ms=s.delete_retention_ms,
                    key_map_entries_max=cfg.cleaner_key_map_entries_max,
                    segments_per_pass_max=cfg.cleaner_segments_per_pass_max,
                    log=self.manager.log.bind(topic=p.topic, partition=p.index)))
            except LogError as exc:
                self.manager.log.warning("replica.compaction_failed", topic=p.topic, partition=p.index,
                                         error=str(exc))
                continue
            self.passes += 1
            if result.segments_cleaned < cfg.cleaner_segments_per_pass_max:
                self.cleaned_end[key] = result.cleanable_end  # else: more to do next time
            total += result.segments_cleaned
            if result.segments_cleaned:
                self.manager.log.info("replica.compaction_pass", topic=p.topic, partition=p.index,
                                      segments_cleaned=result.segments_cleaned,
                                      records_removed=result.records_removed, bytes_removed=result.bytes_removed,
                                      cleaned_to_offset=result.cleanable_end)
        return total
