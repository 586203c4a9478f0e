"""Goal: the ReplicaManager's cleaner compacts only partitions of topics
whose cleanup.policy holds `compact`, once their dirty ratio reaches
min.cleanable.dirty.ratio, never the active segment, and a clean log is not
rewritten again until new segments are sealed; topic configs parse into
CompactionSettings; compact-only topics never age out by retention."""

from __future__ import annotations

from types import SimpleNamespace as NS

import structlog

from rafka.broker.replica.cleaner import CompactionSettings, LogCleaner, compaction_settings
from rafka.broker.replica.settings import ReplicaConfig, log_config
from rafka.log.config import LogConfig
from rafka.log.partition_log import PartitionLog
from rafka.log.records import Record, build_batch
from tests.unit.test_compaction import _all_records


def test_settings_from_configs():
    assert compaction_settings({}) == CompactionSettings(False, 86_400_000, 0.5)
    assert compaction_settings({"cleanup.policy": "compact,delete", "delete.retention.ms": "5",
                                "min.cleanable.dirty.ratio": "0.1"}) == CompactionSettings(True, 5, 0.1)
    assert log_config({"cleanup.policy": "compact", "retention.ms": "10"}).retention_ms == -1
    assert log_config({"cleanup.policy": "compact,delete", "retention.ms": "10"}).retention_ms == 10


def _plog(path) -> PartitionLog:
    plog = PartitionLog.open(path, LogConfig(segment_bytes_max=300, index_interval_bytes=0, retention_ms=-1),
                             now_ms=lambda: 0)
    for r in range(6):
        for k in range(4):
            plog.append(build_batch([Record(b"k%d" % k, b"r%d" % r)], timestamp_ms=1000 + r))
    plog.flush()
    return plog


def _manager(tmp_path, policies: dict[str, str]):
    partitions = {}
    topics = {}
    for i, (name, policy) in enumerate(policies.items()):
        tid = f"id-{i}"
        topics[tid] = NS(configs={"cleanup.policy": policy, "min.cleanable.dirty.ratio": "0.5"})
        partitions[(tid, 0)] = NS(log=_plog(tmp_path / f"{name}-0"), topic=name, index=0, role=NS(topic_id=tid))
    return NS(partitions=partitions, metadata=NS(image=NS(topics_by_id=topics)),
              config=ReplicaConfig(cleaner_segments_per_pass_max=100), log=structlog.get_logger().bind(node_id=1))


async def test_only_compacted_topics_are_cleaned(tmp_path):
    m = _manager(tmp_path, {"c": "compact", "d": "delete"})
    before = {k: _all_records(p.log) for k, p in m.partitions.items()}
    cleaner = LogCleaner(m, now_ms=lambda: 2000)
    assert await cleaner.clean_once() >= 1
    compacted, deleted = m.partitions[("id-0", 0)].log, m.partitions[("id-1", 0)].log
    assert _all_records(deleted) == before[("id-1", 0)]
    got = _all_records(compacted)
    assert len(got) < len(before[("id-0", 0)]) and compacted.log_end_offset == 24
    assert {k: v for _, k, v in got} == {b"k%d" % k: b"r5" for k in range(4)}  # the latest values kept
    assert await cleaner.clean_once() == 0  # nothing dirty: no second rewrite
    for p in m.partitions.values():
        p.log.close()
