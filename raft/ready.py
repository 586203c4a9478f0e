"""Ready / advance bookkeeping and status() for RaftCore (a mixin).

Invariants: at most one Ready is outstanding (handed out by ready() and not
yet advance()d); a Ready's hard state and entries are persisted by the
caller before its messages are sent; `applied` only moves in advance().
"""

from __future__ import annotations

from rafka.raft.status import PeerStatus, RaftStatus
from rafka.raft.messages import AppendEntries, Heartbeat
from rafka.raft.types import HardState, Ready, Role, SoftState

# Leader messages that depend only on already-durable state (term and vote;
# entries may be persisted by followers before the leader itself).
_PIPELINED = (AppendEntries, Heartbeat)


class ReadyMixin:
    # ------------------------------------------------------------ Ready
    def _hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    def _soft_state(self) -> SoftState:
        return SoftState(self.role, self.leader_id, self.term, self.reason)

    def has_ready(self) -> bool:
        if self._outstanding is not None:
            return False
        return bool(
            self.msgs
            or self._pending_appends
            or self.read_states
            or self.events
            or self.log.unstable
            or self.log.unstable_snapshot is not None
            or self.log.has_next_committed()
            or self._hard_state() != self._prev_hard_state
            or not self._soft_state().same(self._prev_soft_state)
        )

    def ready(self) -> Ready:
        assert self._outstanding is None, "ready() called again before advance()"
        self._flush_appends()
        hs = self._hard_state()
        ss = self._soft_state()
        msgs = self.msgs
        self._early_count = 0
        prev = self._prev_hard_state
        if (
            msgs
            and self.role == Role.LEADER
            and (hs.term, hs.vote) == (prev.term, prev.vote)
            and self.log.unstable_snapshot is None
        ):
            # Pipelining: this leader's own appends and heartbeats first; a
            # driver may send them while it persists this Ready.
            term = self.term
            early = [m for m in msgs if type(m) in _PIPELINED and m.term == term]
            if early:
                rest = [m for m in msgs if not (type(m) in _PIPELINED and m.term == term)]
                msgs = early + rest
                self._early_count = len(early)
        rd = Ready(
            hard_state=hs if hs != prev else None,
            soft_state=ss if not ss.same(self._prev_soft_state) else None,
            entries=list(self.log.unstable),
            snapshot=self.log.unstable_snapshot,
            messages=msgs,
            committed_entries=self.log.next_committed(self.cfg.committed_bytes_per_ready_max),
            read_states=self.read_states,
            events=list(self.events),
        )
        self.msgs = []
        self.read_states = []
        self.events = ()
        self._prev_soft_state = ss
        self._outstanding = rd
        return rd

    def advance(self, rd: Ready) -> None:
        """The Ready was persisted, sent and applied."""
        assert rd is self._outstanding, "advance() with a Ready that is not outstanding"
        self._outstanding = None
        if rd.hard_state is not None:
            self._prev_hard_state = rd.hard_state
        if rd.snapshot is not None:
            self.log.stable_snapshot_to(rd.snapshot.meta.index)
            self.log.applied = max(self.log.applied, rd.snapshot.meta.index)
        if rd.committed_entries:
            last = rd.committed_entries[-1].index
            if last > self.log.applied:
                self.log.applied_to(last)
        if rd.entries:
            self.log.stable_to(rd.entries[-1].index, rd.entries[-1].term)
            if self.role == Role.LEADER:
                self._on_stable()

    def messages_before_persist(self, rd: Ready) -> list:
        """The messages of the outstanding Ready `rd` that may be sent
        before it is persisted: a leader's AppendEntries and heartbeats of
        its current term when the Ready changes neither term nor vote (they
        carry entries followers may persist first; the leader's own copy
        counts only after `advance`). They are the first ones of
        `rd.messages`; send the rest after persisting. Optional: sending
        everything after persisting is always correct."""
        assert rd is self._outstanding, "messages_before_persist() with a Ready that is not outstanding"
        return rd.messages[: self._early_count]

    # ------------------------------------------------------------ status
    def status(self) -> RaftStatus:
        peers = {}
        if self.role == Role.LEADER:
            for member in sorted(self.prs):
                pr = self.prs[member]
                peers[member] = PeerStatus(
                    match_index=pr.match,
                    next_index=pr.next,
                    state=pr.state.value,
                    last_contact_ticks=0 if member == self.id else pr.last_contact_ticks,
                    is_learner=member in self.learners,
                )
        return RaftStatus(
            node_id=self.id,
            role=self.role.value,
            term=self.term,
            vote=self.vote,
            leader_id=self.leader_id,
            commit_index=self.log.committed,
            applied=self.log.applied,
            first_index=self.log.first_index(),
            last_index=self.log.last_index(),
            voters=sorted(self.voters),
            learners=sorted(self.learners),
            lead_transferee=self.lead_transferee,
            peers=peers,
            election_timeout_ticks=self.cfg.election_timeout_ticks,
            election_elapsed=self.election_elapsed,
        )
