"""Gauges computed at scrape time from what the node already knows.

`ClusterCollector(source)` is a prometheus_client collector; `source` is any
object with `raft_status()` (a RaftStatus or None), `image()` (the node's
MetadataImage) and `partitions()` (this broker's hosted partitions, each
with topic, index, is_leader, log_start_offset, log_end_offset,
high_watermark and isr_size; may be empty). Pure over those three reads,
so a test feeds it plain objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

from prometheus_client.core import GaugeMetricFamily

RAFT_ROLES = ("leader", "follower", "candidate", "pre_candidate", "learner")


@dataclass(frozen=True)
class HostedPartition:
    topic: str
    index: int
    is_leader: bool
    log_start_offset: int
    log_end_offset: int
    high_watermark: int
    isr_size: int


@dataclass(frozen=True)
class GroupOffset:
    group: str
    topic: str
    partition: int
    committed_offset: int
    lag: int | None  # log end - committed, when this broker knows the log end


class MetricsSource(Protocol):
    def raft_status(self): ...

    def image(self): ...

    def partitions(self) -> Iterable[HostedPartition]: ...

    def group_offsets(self) -> Iterable[GroupOffset]: ...


class ClusterCollector:
    def __init__(self, source: MetricsSource) -> None:
        self.source = source

    def collect(self):
        yield from raft_families(self.source.raft_status())
        image = self.source.image()
        if image is not None:
            yield from broker_families(image)
            yield from partition_health_families(image)
        yield from hosted_families(list(self.source.partitions()))
        yield from group_families(list(self.source.group_offsets()))


def raft_families(st) -> list:
    role = GaugeMetricFamily("rafka_raft_role", "1 for this node's current Raft role", labels=["role"])
    term = GaugeMetricFamily("rafka_raft_term", "Current Raft term")
    commit = GaugeMetricFamily("rafka_raft_commit_index", "Highest committed metadata log index")
    last = GaugeMetricFamily("rafka_raft_last_index", "Last index of this node's metadata log")
    lag = GaugeMetricFamily("rafka_raft_voter_lag_entries",
                            "Entries each voter is behind the leader (on the leader only)", labels=["voter"])
    if st is not None:
        for name in RAFT_ROLES:
            role.add_metric([name], 1.0 if st.role == name else 0.0)
        term.add_metric([], st.term)
        commit.add_metric([], st.commit_index)
        last.add_metric([], st.last_index)
        if st.role == "leader":
            for node_id in st.voters:
                peer = st.peers.get(node_id)
                if peer is not None:
                    lag.add_metric([str(node_id)], max(0, st.last_index - peer.match_index))
    return [role, term, commit, last, lag]


def broker_families(image) -> list:
    brokers = GaugeMetricFamily("rafka_brokers", "Registered brokers by state", labels=["state"])
    fenced = sum(1 for b in image.brokers.values() if b.fenced)
    brokers.add_metric(["fenced"], fenced)
    brokers.add_metric(["unfenced"], len(image.brokers) - fenced)
    return [brokers]


def partition_health_families(image) -> list:
    """Cluster-wide partition health as this node's image sees it."""
    under_replicated = under_min_isr = offline = leaderless = 0
    live = {b.node_id for b in image.brokers.values() if not b.fenced}
    for t in image.topics_by_name.values():
        min_isr = _int(t.configs.get("min.insync.replicas"), 1)
        for p in t.partitions:
            if p.leader is None:
                leaderless += 1
                if not any(r in live for r in p.replicas):
                    offline += 1
            if len(p.isr) < len(p.replicas):
                under_replicated += 1
            if len(p.isr) < min_isr:
                under_min_isr += 1
    out = []
    for name, value, doc in (
        ("rafka_partitions_under_replicated", under_replicated, "Partitions whose ISR is smaller than their replicas"),
        ("rafka_partitions_under_min_isr", under_min_isr, "Partitions whose ISR is below min.insync.replicas"),
        ("rafka_partitions_offline", offline, "Partitions with no leader and no live replica"),
        ("rafka_partitions_leaderless", leaderless, "Partitions with no leader"),
    ):
        g = GaugeMetricFamily(name, doc)
        g.add_metric([], value)
        out.append(g)
    return out


def hosted_families(parts: list[HostedPartition]) -> list:
    labels = ["topic", "partition"]
    end = GaugeMetricFamily("rafka_partition_log_end_offset", "Log end offset of a hosted partition", labels=labels)
    start = GaugeMetricFamily("rafka_partition_log_start_offset", "Log start offset of a hosted partition",
                              labels=labels)
    hw = GaugeMetricFamily("rafka_partition_high_watermark", "High watermark of a hosted partition", labels=labels)
    isr = GaugeMetricFamily("rafka_partition_isr_size", "ISR size of a partition this broker leads", labels=labels)
    for p in parts:
        key = [p.topic, str(p.index)]
        end.add_metric(key, p.log_end_offset)
        start.add_metric(key, p.log_start_offset)
        hw.add_metric(key, p.high_watermark)
        if p.is_leader:
            isr.add_metric(key, p.isr_size)
    return [end, start, hw, isr]


def group_families(offsets: list[GroupOffset]) -> list:
    """Committed offsets and lag of the groups this node coordinates."""
    labels = ["group", "topic", "partition"]
    committed = GaugeMetricFamily("rafka_group_committed_offset", "A group's committed offset of a partition",
                                  labels=labels)
    lag = GaugeMetricFamily("rafka_group_lag", "Log end minus a group's committed offset (when this node hosts "
                            "the partition)", labels=labels)
    for o in offsets:
        key = [o.group, o.topic, str(o.partition)]
        committed.add_metric(key, o.committed_offset)
        if o.lag is not None:
            lag.add_metric(key, o.lag)
    return [committed, lag]


def _int(text, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default
