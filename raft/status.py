"""A typed snapshot of a Raft node's state, and the liveness rules every
reader of it shares.

Why one place: the core (check before promoting a learner), the controller
probe (may any controller decide now?), the voter-change policy and the
shutdown handover all ask "which voters are live" and "is this member
caught up". Each used to answer from an untyped dict with its own rule; now
they call `RaftStatus.is_live` / `live_voters` / `caught_up`, built on the
two pure functions below that the core uses too.

Liveness is the leader's knowledge: a member is live when the leader heard
from it within an election timeout (`last_contact_ticks <
election_timeout_ticks`). A node counts itself live; a follower knows
nobody else's liveness (its `peers` is empty).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


def heard_recently(last_contact_ticks: int, election_timeout_ticks: int) -> bool:
    """The leader heard from a member within an election timeout."""
    return last_contact_ticks < election_timeout_ticks


def is_caught_up(match_index: int, commit_index: int, last_contact_ticks: int, election_timeout_ticks: int) -> bool:
    """A member may become a voter: it holds every committed entry and is live
    (a voter that is behind or silent would stall the new majority)."""
    return match_index >= commit_index and heard_recently(last_contact_ticks, election_timeout_ticks)


@dataclass
class PeerStatus:
    """One member as the leader tracks it (etcd-raft's Progress)."""

    match_index: int = 0
    next_index: int = 1
    state: str = "probe"
    last_contact_ticks: int = 0
    is_learner: bool = False


@dataclass
class RaftStatus:
    node_id: int
    role: str
    term: int = 0
    leader_id: int | None = None
    vote: int | None = None
    commit_index: int = 0
    applied: int = 0
    first_index: int = 1
    last_index: int = 0
    voters: list[int] = field(default_factory=list)
    learners: list[int] = field(default_factory=list)
    lead_transferee: int | None = None
    peers: dict[int, PeerStatus] = field(default_factory=dict)  # filled only on the leader
    election_timeout_ticks: int = 10
    election_elapsed: int = 0  # ticks since the leader was last heard (followers)
    # Filled by the driver:
    tick_ms: int = 0
    dropped_messages: int = 0
    snapshot_index: int = 0

    @property
    def is_leader(self) -> bool:
        return self.role == "leader" and self.leader_id == self.node_id

    def is_live(self, node_id: int) -> bool:
        if node_id == self.node_id:
            return True
        peer = self.peers.get(node_id)
        return peer is not None and heard_recently(peer.last_contact_ticks, self.election_timeout_ticks)

    def live_voters(self) -> list[int]:
        return [v for v in sorted(self.voters) if self.is_live(v)]

    def caught_up(self, node_id: int) -> bool:
        peer = self.peers.get(node_id)
        if peer is None:
            return False
        return is_caught_up(peer.match_index, self.commit_index, peer.last_contact_ticks,
                            self.election_timeout_ticks)

    def to_dict(self) -> dict:
        """The plain form (JSON, logs, simulator traces)."""
        return asdict(self)
