"""Settings of the Raft core, in ticks and bytes (the driver maps ticks to
milliseconds). Every queue and window the core keeps has a `*_max`-style
limit here."""

from __future__ import annotations

from dataclasses import dataclass

from rafka.raft.errors import RaftConfigError


@dataclass(frozen=True)
class RaftConfig:
    # A follower campaigns after a randomized timeout in [t, 2t) ticks
    # without hearing from a leader.
    election_timeout_ticks: int = 10
    # The leader sends heartbeats every heartbeat_ticks; must be well below
    # the election timeout.
    heartbeat_ticks: int = 1
    # Pipelining window: unacknowledged AppendEntries per member.
    inflight_msgs_max: int = 64
    # Bytes of entries per AppendEntries (at least one entry is always sent).
    msg_bytes_max: int = 1 << 20
    # The leader refuses proposals while this many bytes are uncommitted.
    uncommitted_bytes_max: int = 64 << 20
    # Bytes of committed entries handed out per Ready.
    committed_bytes_per_ready_max: int = 16 << 20
    pre_vote: bool = True
    check_quorum: bool = True
    # Size of one snapshot chunk on the wire.
    snapshot_chunk_bytes: int = 1 << 20
    # A received snapshot larger than this is refused.
    snapshot_bytes_max: int = 1 << 30
    # ReadIndex requests waiting for leadership confirmation.
    pending_read_index_max: int = 4096

    def __post_init__(self) -> None:
        positive = (
            "election_timeout_ticks",
            "heartbeat_ticks",
            "inflight_msgs_max",
            "msg_bytes_max",
            "uncommitted_bytes_max",
            "committed_bytes_per_ready_max",
            "snapshot_chunk_bytes",
            "snapshot_bytes_max",
            "pending_read_index_max",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise RaftConfigError(f"{name} must be a positive int, got {value!r}")
        if self.heartbeat_ticks >= self.election_timeout_ticks:
            raise RaftConfigError(
                f"heartbeat_ticks ({self.heartbeat_ticks}) must be below "
                f"election_timeout_ticks ({self.election_timeout_ticks})"
            )
