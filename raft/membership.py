"""Single-server membership changes (Raft dissertation 4.1) for RaftCore.

Rules (each refusal raises ConfChangeError):
- one change at a time: a new change waits until the previous CONFIG entry
  is committed, and until the leader committed an entry of its own term;
- a configuration takes effect on every node as soon as its CONFIG entry is
  appended (not when committed); a truncated CONFIG entry reverts to the
  previous configuration;
- add_voter only promotes a learner that is caught up (its match index has
  reached the commit index and it answered within an election timeout), so
  a new voter never stalls commits;
- the last voter cannot be removed; a leader that removes itself keeps
  leading until the change commits, not counting itself, then steps down.
"""

from __future__ import annotations

from rafka.raft.errors import ConfChangeError, NotLeaderError, ProposalDroppedError
from rafka.raft.progress import Progress
from rafka.raft.status import is_caught_up
from rafka.raft.types import ConfChangeKind, ConfigState, EntryKind, Role


def next_config(current: ConfigState, kind: ConfChangeKind, node_id: int) -> ConfigState:
    """The configuration after one single-server change (pure)."""
    voters, learners = set(current.voters), set(current.learners)
    if kind == ConfChangeKind.ADD_LEARNER:
        if node_id in voters or node_id in learners:
            raise ConfChangeError(f"node {node_id} is already a member")
        learners.add(node_id)
    elif kind == ConfChangeKind.ADD_VOTER:
        if node_id in voters:
            raise ConfChangeError(f"node {node_id} is already a voter")
        if node_id not in learners:
            raise ConfChangeError(f"node {node_id} must be added as a learner first")
        learners.discard(node_id)
        voters.add(node_id)
    elif kind == ConfChangeKind.REMOVE_VOTER:
        if node_id not in voters:
            raise ConfChangeError(f"node {node_id} is not a voter")
        if len(voters) == 1:
            raise ConfChangeError("cannot remove the last voter")
        voters.discard(node_id)
    elif kind == ConfChangeKind.REMOVE_LEARNER:
        if node_id not in learners:
            raise ConfChangeError(f"node {node_id} is not a learner")
        learners.discard(node_id)
    return ConfigState(frozenset(voters), frozenset(learners))


class MembershipMixin:
    def propose_conf_change(self, kind: ConfChangeKind | str, node_id: int) -> int:
        """Append a CONFIG entry for one single-server change; returns its
        index. Raises NotLeaderError, ProposalDroppedError or ConfChangeError."""
        try:
            kind = ConfChangeKind(kind)
        except ValueError:
            raise ConfChangeError(f"unknown configuration change {kind!r}") from None
        if not isinstance(node_id, int) or isinstance(node_id, bool) or node_id <= 0:
            raise ConfChangeError(f"bad node id {node_id!r}")
        if self.role != Role.LEADER:
            raise NotLeaderError(self.leader_id)
        if self.lead_transferee is not None:
            raise ProposalDroppedError("leadership transfer in progress")
        if self.config_index > self.log.committed:
            raise ConfChangeError("another configuration change is in progress")
        if not self._committed_in_term():
            raise ConfChangeError("the leader has not committed an entry of its term yet")
        current = ConfigState(self.voters, self.learners)
        new = next_config(current, kind, node_id)
        if kind == ConfChangeKind.ADD_VOTER:
            pr = self.prs[node_id]
            if not is_caught_up(pr.match, self.log.committed, pr.last_contact_ticks,
                                self.cfg.election_timeout_ticks):
                raise ConfChangeError(
                    f"learner {node_id} is not caught up (match {pr.match}, commit {self.log.committed})"
                )
        index = self._append_local(EntryKind.CONFIG, new.encode())
        self._bcast_append()
        return index

    def _apply_config(self, config: ConfigState, index: int, term: int) -> None:
        """Make `config` (from the entry or snapshot at index) current."""
        self.voters = frozenset(config.voters)
        self.learners = frozenset(config.learners)
        self.config_index = index
        self.config_term = term
        if self.role != Role.LEADER:
            return
        for member in sorted(config.members):
            if member not in self.prs:
                self.prs[member] = Progress(self.log.last_index() + 1, self.cfg.inflight_msgs_max, False)
        for member in list(self.prs):
            if member not in config.members and member != self.id:
                del self.prs[member]
        for member, pr in self.prs.items():
            pr.is_learner = member in self.learners
        if self.lead_transferee is not None and self.lead_transferee not in self.voters:
            self._abort_transfer("transfer target removed")

    def _reload_config(self) -> None:
        """Recompute the configuration from the newest CONFIG entry in the
        log, else the snapshot's (or bootstrap) configuration."""
        lo, i = self.log.first_index(), self.log.last_index()
        while i >= lo:
            start = max(lo, i - 255)
            for e in reversed(self.log.slice(start, i + 1)):
                if e.kind == EntryKind.CONFIG:
                    self._apply_config(ConfigState.decode(e.data), e.index, e.term)
                    return
            i = start - 1
        meta = self.log.snapshot().meta
        self._apply_config(meta.config, meta.index, meta.term)

    def _config_at(self, index: int) -> ConfigState:
        """The configuration in force at log index (for snapshots)."""
        if index >= self.config_index:
            return ConfigState(self.voters, self.learners)
        lo, i = self.log.first_index(), index
        while i >= lo:
            start = max(lo, i - 255)
            for e in reversed(self.log.slice(start, i + 1)):
                if e.kind == EntryKind.CONFIG:
                    return ConfigState.decode(e.data)
            i = start - 1
        return self.log.snapshot().meta.config
