"""Role transitions of RaftCore: the table of legal ones and the
`_become_*` steps. A mixin: it reads and writes RaftCore's fields; RaftCore
is the only subclass.

The role transitions (the only legal ones; `_transition` asserts each):

    FOLLOWER      -> FOLLOWER       higher term seen, or new leader learned
    FOLLOWER      -> PRE_CANDIDATE  election timeout (pre_vote on, voter only)
    FOLLOWER      -> CANDIDATE      election timeout (pre_vote off) or TimeoutNow
    PRE_CANDIDATE -> PRE_CANDIDATE  election timeout again
    PRE_CANDIDATE -> CANDIDATE      pre-vote granted by a quorum
    PRE_CANDIDATE -> FOLLOWER       leader found, higher term, or pre-vote lost
    CANDIDATE     -> PRE_CANDIDATE  election timeout (pre_vote on)
    CANDIDATE     -> CANDIDATE      election timeout (pre_vote off) or TimeoutNow
    CANDIDATE     -> LEADER         votes from a quorum
    CANDIDATE     -> FOLLOWER       leader found, higher term, or election lost
    LEADER        -> FOLLOWER       higher term, check-quorum lost majority,
                                    or removed from the configuration

Invariants: a learner (not in the voter set) only ever becomes FOLLOWER;
becoming FOLLOWER, CANDIDATE or LEADER goes through `_reset`, which clears
every per-role field (leader, votes, progress, read-only queue, pending
appends, uncommitted bytes, a leadership transfer) and the vote of an old
term.
"""

from __future__ import annotations

from rafka.raft.progress import Progress
from rafka.raft.readindex import ReadOnly
from rafka.raft.types import EntryKind, Role

_ALLOWED: dict[Role, frozenset[Role]] = {
    Role.FOLLOWER: frozenset({Role.FOLLOWER, Role.PRE_CANDIDATE, Role.CANDIDATE}),
    Role.PRE_CANDIDATE: frozenset({Role.PRE_CANDIDATE, Role.CANDIDATE, Role.FOLLOWER}),
    Role.CANDIDATE: frozenset({Role.PRE_CANDIDATE, Role.CANDIDATE, Role.LEADER, Role.FOLLOWER}),
    Role.LEADER: frozenset({Role.FOLLOWER}),
}


class RoleMixin:
    def _transition(self, to: Role, reason: str) -> None:
        assert to in _ALLOWED[self.role], f"illegal role transition {self.role.value} -> {to.value}"
        assert to == Role.FOLLOWER or self._promotable(), "a non-voter must never campaign or lead"
        self.role = to
        self.reason = reason

    def _reset_randomized_election_timeout(self) -> None:
        t = self.cfg.election_timeout_ticks
        self.randomized_election_timeout = t + self.rng.randrange(t)

    def _reset(self, term: int) -> None:
        if term != self.term:
            self.term = term
            self.vote = None
        self.leader_id = None
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._reset_randomized_election_timeout()
        self.lead_transferee = None
        self.transfer_elapsed = 0
        self.votes = {}
        self.prs = {}
        self.read_only = ReadOnly()
        self._uncommitted.clear()
        self.uncommitted_bytes = 0
        self._pending_appends.clear()

    def _become_follower(self, term: int, leader_id: int | None, reason: str) -> None:
        self._reset(term)
        self.leader_id = leader_id
        self._transition(Role.FOLLOWER, reason)

    def _become_pre_candidate(self, reason: str) -> None:
        self._transition(Role.PRE_CANDIDATE, reason)
        self.votes = {}
        self.prs = {}
        self.leader_id = None

    def _become_candidate(self, reason: str) -> None:
        self._transition(Role.CANDIDATE, reason)
        self._reset(self.term + 1)
        self.vote = self.id

    def _become_leader(self, reason: str) -> None:
        self._transition(Role.LEADER, reason)
        self._reset(self.term)
        self.leader_id = self.id
        last = self.log.last_index()
        for member in sorted(self.voters | self.learners | {self.id}):
            self.prs[member] = Progress(last + 1, self.cfg.inflight_msgs_max, member in self.learners)
        me = self.prs[self.id]
        me.match = self.log.stable_last_index()  # only what is already durable counts
        me.become_replicate()
        me.recent_active = True
        self._append_local(EntryKind.NOOP, b"")
        self._bcast_append()

    def _abort_transfer(self, reason: str) -> None:
        self.lead_transferee = None
        self.transfer_elapsed = 0
