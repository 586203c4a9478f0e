"""One group's data and its state machine vocabulary (Kafka's classic
GroupMetadata).

States and the transitions `coordinator.py` makes (the only authority):

    Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
    CompletingRebalance --leader's SyncGroup stored--> Stable
    Stable / CompletingRebalance --join of a new or changed member,
        leave, session expiry--> PreparingRebalance
    PreparingRebalance --no member left--> Empty
    Empty --deleted / offsets expired--> Dead

Invariants: `leader` is a member id in `members` or None; static members
map instance id -> member id one to one; every member supports
`protocol` while the group is CompletingRebalance or Stable.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum

from rafka.broker.group.member import Member


class GroupState(Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


@dataclass
class CommittedOffset:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp_ms: int


@dataclass
class Group:
    group_id: str
    state: GroupState = GroupState.EMPTY
    state_timestamp_ms: int = 0
    generation_id: int = 0
    protocol_type: str | None = None
    protocol: str | None = None
    leader: str | None = None
    members: dict[str, Member] = field(default_factory=dict)
    static_members: dict[str, str] = field(default_factory=dict)   # instance id -> member id
    pending_members: dict[str, int] = field(default_factory=dict)  # member id -> expiry (ms)
    # Rebalance deadlines: join phase (PreparingRebalance) and sync phase.
    join_deadline_ms: int | None = None
    initial_delay_until_ms: int | None = None
    sync_deadline_ms: int | None = None
    # A leader's assignments are being written; the generation they belong to.
    storing_generation: int | None = None
    offsets: dict[tuple[str, int], CommittedOffset] = field(default_factory=dict)
    pending_commits: Counter = field(default_factory=Counter)  # (topic, partition) -> writes in flight

    def is_(self, *states: GroupState) -> bool:
        return self.state in states

    def transition(self, state: GroupState, now_ms: int) -> None:
        self.state = state
        self.state_timestamp_ms = now_ms

    def has_member(self, member_id: str) -> bool:
        return member_id in self.members

    def awaiting_join_count(self) -> int:
        return sum(1 for m in self.members.values() if m.awaiting_join)

    def all_joined(self) -> bool:
        return not self.pending_members and all(m.awaiting_join for m in self.members.values())

    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def candidate_protocols(self) -> set[str]:
        """Protocols every member supports."""
        sets = [set(m.protocol_names()) for m in self.members.values()]
        return set.intersection(*sets) if sets else set()

    def supports(self, protocol_type: str, protocols: list[tuple[str, bytes]]) -> bool:
        """Kafka's supportsProtocols: an empty group takes any non-empty
        type and list; otherwise the type must match and one of the
        protocols must be supported by every current member."""
        names = {n for n, _ in protocols}
        if not self.members:
            return bool(protocol_type) and bool(names)
        return protocol_type == self.protocol_type and bool(names & self.candidate_protocols())

    def select_protocol(self) -> str:
        """Each member votes for its most preferred candidate; most votes
        wins (ties: the name first in sort order, deterministic)."""
        candidates = self.candidate_protocols()
        assert candidates, "no protocol every member supports"
        votes: Counter = Counter()
        for m in self.members.values():
            votes[next(n for n in m.protocol_names() if n in candidates)] += 1
        best = max(votes.values())
        return min(n for n, c in votes.items() if c == best)

    def add_member(self, member: Member) -> None:
        if self.leader is None:
            self.leader = member.member_id
        if not self.members:
            self.protocol_type = member.protocol_type
        self.members[member.member_id] = member
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id

    def remove_member(self, member_id: str) -> Member | None:
        m = self.members.pop(member_id, None)
        if m is None:
            return None
        if m.group_instance_id is not None and self.static_members.get(m.group_instance_id) == member_id:
            del self.static_members[m.group_instance_id]
        if self.leader == member_id:
            self.leader = next(iter(self.members), None)
        return m

    def subscribed_topics(self) -> set[str] | None:
        """Topics the members subscribe to (consumer protocol type only;
        None when unknown, e.g. another protocol type)."""
        from rafka.broker.group.consumer_protocol import subscription_topics

        if self.protocol_type != "consumer" or self.protocol is None:
            return None if self.members else set()
        out: set[str] = set()
        for m in self.members.values():
            try:
                out |= subscription_topics(m.metadata_for(self.protocol))
            except (KeyError, ValueError):
                return None
        return out
