"""Settings of the controller's decisions (all limits named `*_max`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ControllerConfig:
    # A broker that has not heartbeaten for this long is fenced.
    session_timeout_ms: int = 6000
    # A broker whose peer connections were all closed by the peer (EOF/RST:
    # its process is gone) is fenced this long after, unless a heartbeat of
    # the same broker epoch arrives first. About a heartbeat interval and a
    # half: a live broker's next heartbeat clears it, a killed one's
    # partitions move in ~1.5 s instead of a whole session timeout. A slow
    # but alive broker keeps its sockets and the full session timeout. A
    # grace above session_timeout_ms acts as session_timeout_ms.
    session_lost_grace_ms: int = 1500
    # A fenced broker is unfenced once its metadata offset is at least its
    # registration's offset and at most this many entries behind the image.
    broker_caught_up_lag_max: int = 1000
    # Topic limits (one CreateTopics entry holds a topic's partitions, so
    # this also bounds a Raft entry to ~70 bytes per partition).
    partitions_per_topic_max: int = 10_000
    cluster_partitions_max: int = 1_000_000
    topics_per_request_max: int = 1000
    replication_factor_max: int = 64
    # True: a broker that comes back re-joins the ISR of partitions that
    # have a leader as soon as it is unfenced (for controller-only tests
    # without data). Nodes run with False (broker/node/metadata_services.py):
    # a follower re-joins only through its leader's AlterPartition, once it
    # has caught up (broker/replica).
    rejoin_isr_on_unfence: bool = True
    # Periodic preferred-leader election (Kafka's auto.leader.rebalance).
    preferred_election_interval_ms: int = 5_000
    preferred_elections_per_tick_max: int = 1000
    # Safety net: leaderless partitions re-tried per tick.
    leaderless_elections_per_tick_max: int = 1000
    # Partitions named in one ElectLeaders request.
    elect_partitions_per_request_max: int = 10_000
    # Partition leader/ISR changes of one decision logged at info level; the
    # rest go to debug, with one summary line (a fence of a broker holding
    # 500 partitions must not write 500 info lines).
    decision_log_partitions_max: int = 20

    def __post_init__(self) -> None:
        for name in ("session_timeout_ms", "session_lost_grace_ms", "partitions_per_topic_max", "cluster_partitions_max",
                     "topics_per_request_max", "replication_factor_max",
                     "preferred_election_interval_ms", "decision_log_partitions_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"controller {name} must be >= 1")
