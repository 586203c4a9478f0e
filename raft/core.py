"""RaftCore: a pure, deterministic Raft state machine (etcd-raft's RawNode /
Ready model). No I/O, no clock: time is `tick()`, randomness is the injected
`random.Random`, input is `step(msg)` and the proposal methods, output is a
`Ready` (see raft.types.Ready for the persist-then-send contract).

Public API (stable; the simulator and the driver depend on it):
    RaftCore(node_id, config: RaftConfig, storage: Storage, rng: random.Random)
    tick(); step(msg)
    propose(data) -> index                    NotLeaderError / ProposalDroppedError
    propose_batch([data, ...]) -> [index, ...]  all appended or none (same errors)
    propose_conf_change(kind, node_id) -> index  (+ ConfChangeError)
    transfer_leadership(target)               NotLeaderError / TransferError
    read_index(ctx)                           answer: ReadState(index, ctx) in a Ready
    has_ready(); ready() -> Ready; advance(ready)
    messages_before_persist(ready) -> list    the leader's appends/heartbeats of
                                              that Ready that may go out before
                                              its persist (pipelining, optional)
    compact(index, data) -> Snapshot          caller then storage.create_snapshot + compact
    status() -> RaftStatus (raft/status.py)
    attributes: id, role, term, vote, leader_id, voters, learners, log (RaftLog)

Role transitions: only those in the table of raft.roles are legal (asserted
on every transition).

Learners (members not in the voter set) stay FOLLOWER forever: they never
campaign. A node is LEADER for at most one term at a time, and at most one
node is LEADER per term (election safety; checked by the simulator).

Ready pairing: after `ready()` the caller must `advance(that_ready)` before
the next `ready()`; `has_ready()` is False while a Ready is outstanding.

Batching: proposals and append acknowledgements only *mark* members as
needing an AppendEntries; the messages are built once, in `ready()`, so
everything stepped between two Readys shares one AppendEntries per member.

Leader durability: the leader counts its own log toward commit only up to
what a Ready it handed out was persisted (`advance`), never entries it
merely appended. So an entry commits only when a majority has it durable,
and a driver may send the leader's AppendEntries while it persists the same
entries itself (Raft thesis 10.2.1).
"""

from __future__ import annotations

import random
from collections import deque

from rafka.raft.config import RaftConfig
from rafka.raft.election import ElectionMixin
from rafka.raft.errors import CompactedError, NotLeaderError, ProposalDroppedError, RaftConfigError, RaftError, TransferError
from rafka.raft.membership import MembershipMixin
from rafka.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    ReadIndexRequest,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    SnapshotRequest,
    SnapshotResponse,
    TimeoutNow,
)
from rafka.raft.progress import Progress
from rafka.raft.raft_log import RaftLog
from rafka.raft.readindex import ReadIndexMixin, ReadOnly
from rafka.raft.ready import ReadyMixin
from rafka.raft.replication import ReplicationMixin
from rafka.raft.roles import RoleMixin
from rafka.raft.storage import Storage
from rafka.raft.types import ConfigState, Entry, EntryKind, HardState, Ready, Role, Snapshot, SnapshotMeta, SoftState

__all__ = ["RaftCore", "RaftConfig"]

_FROM_LEADER = (AppendEntries, Heartbeat, SnapshotRequest)


class RaftCore(RoleMixin, ElectionMixin, ReplicationMixin, ReadIndexMixin, MembershipMixin, ReadyMixin):
    def __init__(self, node_id: int, config: RaftConfig, storage: Storage, rng: random.Random) -> None:
        if not isinstance(node_id, int) or node_id <= 0:
            raise RaftConfigError(f"node_id must be a positive int, got {node_id!r}")
        self.id = node_id
        self.cfg = config
        self.rng = rng
        self.log = RaftLog(storage)
        hard_state, _ = storage.initial_state()
        self.term = hard_state.term
        self.vote = hard_state.vote
        self.log.committed = max(self.log.committed, min(hard_state.commit, self.log.last_index()))
        self.voters: frozenset[int] = frozenset()
        self.learners: frozenset[int] = frozenset()
        self.config_index = 0
        self.config_term = 0
        self.role = Role.FOLLOWER
        self.leader_id: int | None = None
        self.reason = "start"
        self.prs: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}
        self.msgs: list = []
        self.read_states: list = []
        self.read_only = ReadOnly()
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = config.election_timeout_ticks
        self.lead_transferee: int | None = None
        self.transfer_elapsed = 0
        self._campaign_transfer = False
        self._uncommitted: deque[tuple[int, int]] = deque()
        self._pending_appends: dict[int, bool] = {}  # member -> send_if_empty
        self.uncommitted_bytes = 0
        self._snap_recv = None
        self._reload_config()
        self._reset_randomized_election_timeout()
        self._prev_hard_state = HardState(self.term, self.vote, self.log.committed)
        self._prev_soft_state = self._soft_state()
        self._outstanding: Ready | None = None
        self._early_count = 0  # rd.messages[:n] may go before persisting

    # ------------------------------------------------------------ input
    def tick(self) -> None:
        """Advance logical time by one tick."""
        if self.role == Role.LEADER:
            self._tick_leader()
        else:
            self._tick_election()

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        for member, pr in self.prs.items():
            if member != self.id:
                pr.last_contact_ticks += 1
        if self.lead_transferee is not None:
            self.transfer_elapsed += 1
            if self.transfer_elapsed >= self.cfg.election_timeout_ticks:
                self._abort_transfer("transfer timed out")
        if self.election_elapsed >= self.cfg.election_timeout_ticks:
            self.election_elapsed = 0
            if self.cfg.check_quorum and not self._quorum_active():
                self._become_follower(self.term, None, "check-quorum lost majority")
                return
        self._retry_stalled_snapshots()
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            self._bcast_heartbeat()

    def _quorum_active(self) -> bool:
        active = 0
        for voter in self.voters:
            pr = self.prs.get(voter)
            if voter == self.id or (pr is not None and pr.recent_active):
                active += 1
        for member, pr in self.prs.items():
            if member != self.id:
                pr.recent_active = False
        return active >= self._quorum()

    def step(self, msg) -> None:
        """Handle one message from a peer. Messages for another node or with
        an unknown type are dropped (they are bad input, not bugs)."""
        if getattr(msg, "dst", None) != self.id or getattr(msg, "src", None) in (None, self.id):
            return
        if msg.term > self.term:
            if isinstance(msg, RequestVote):
                in_lease = (
                    self.cfg.check_quorum
                    and self.leader_id is not None
                    and self.election_elapsed < self.cfg.election_timeout_ticks
                )
                if in_lease and not msg.transfer:
                    return  # leader stickiness: a live leader is known
            if isinstance(msg, RequestVote) and msg.pre_vote:
                pass
            elif isinstance(msg, RequestVoteResponse) and msg.pre_vote and msg.granted:
                pass
            elif isinstance(msg, _FROM_LEADER):
                self._become_follower(msg.term, msg.src, f"higher term from {msg.src}")
            else:
                self._become_follower(msg.term, None, f"higher term from {msg.src}")
        elif msg.term < self.term:
            if isinstance(msg, (AppendEntries, Heartbeat)):
                # Tell a stale leader about the newer term so it steps down.
                self._send(AppendEntriesResponse(src=self.id, dst=msg.src, term=self.term, success=False))
            elif isinstance(msg, RequestVote) and msg.pre_vote:
                self._send(RequestVoteResponse(src=self.id, dst=msg.src, term=self.term, granted=False, pre_vote=True))
            return
        if isinstance(msg, RequestVote):
            self._handle_request_vote(msg)
        elif self.role == Role.LEADER:
            self._step_leader(msg)
        elif self.role in (Role.CANDIDATE, Role.PRE_CANDIDATE):
            self._step_candidate(msg)
        else:
            self._step_follower(msg)

    def _step_leader(self, msg) -> None:
        if isinstance(msg, AppendEntriesResponse):
            self._handle_append_response(msg)
        elif isinstance(msg, HeartbeatResponse):
            self._handle_heartbeat_response(msg)
        elif isinstance(msg, SnapshotResponse):
            self._handle_snapshot_response(msg)
        elif isinstance(msg, ReadIndexRequest):
            self._handle_read_index_request(msg)

    def _step_candidate(self, msg) -> None:
        if isinstance(msg, _FROM_LEADER):
            self._become_follower(self.term, msg.src, f"leader {msg.src} found")
            self._step_follower(msg)
        elif isinstance(msg, RequestVoteResponse):
            self._handle_vote_response(msg)

    def _step_follower(self, msg) -> None:
        if isinstance(msg, _FROM_LEADER):
            self.election_elapsed = 0
            self.leader_id = msg.src
            if isinstance(msg, AppendEntries):
                self._handle_append(msg)
            elif isinstance(msg, Heartbeat):
                self._handle_heartbeat(msg)
            else:
                self._handle_snapshot_request(msg)
        elif isinstance(msg, TimeoutNow):
            self._handle_timeout_now(msg)
        elif isinstance(msg, ReadIndexResponse):
            self._handle_read_index_response(msg)

    def _send(self, msg) -> None:
        self.msgs.append(msg)

    # ------------------------------------------------------------ proposals
    def propose(self, data: bytes) -> int:
        """Append a NORMAL entry on the leader; returns its index."""
        return self.propose_batch([data])[0]

    def propose_batch(self, datas: list[bytes]) -> list[int]:
        """Append NORMAL entries, in order, on the leader; returns their
        indexes. All or none: a refusal (NotLeaderError,
        ProposalDroppedError) appends nothing."""
        if not datas:
            return []
        if not all(type(d) is bytes for d in datas):
            if not all(isinstance(d, (bytes, bytearray)) for d in datas):
                raise ProposalDroppedError("proposal data must be bytes")
            datas = [bytes(d) for d in datas]
        if self.role != Role.LEADER:
            raise NotLeaderError(self.leader_id)
        if self.lead_transferee is not None:
            raise ProposalDroppedError("leadership transfer in progress")
        size = sum(map(len, datas))
        if self.uncommitted_bytes and self.uncommitted_bytes + size > self.cfg.uncommitted_bytes_max:
            raise ProposalDroppedError("too many uncommitted bytes")
        term = self.term
        first = self.log.last_index() + 1
        normal = EntryKind.NORMAL
        entries = [Entry(term, first + k, normal, d) for k, d in enumerate(datas)]
        self.log.append(entries)
        if size:
            self._uncommitted.append((entries[-1].index, size))
            self.uncommitted_bytes += size
        self._defer_bcast_append()
        return list(range(first, first + len(entries)))

    def _append_local(self, kind: EntryKind, data: bytes) -> int:
        """Append one entry of this leader's term. It counts toward commit
        once persisted (`_on_stable`), not here."""
        index = self.log.last_index() + 1
        entry = Entry(self.term, index, kind, data)
        self.log.append([entry])
        if kind == EntryKind.CONFIG:
            self._apply_config(ConfigState.decode(data), index, self.term)
        if data:
            self._uncommitted.append((index, len(data)))
            self.uncommitted_bytes += len(data)
        return index

    def _on_stable(self) -> None:
        """Leader: a Ready's entries are durable; count them for commit and
        tell the members about a new commit index."""
        me = self.prs.get(self.id)
        if me is None or not me.maybe_update(self.log.stable_last_index()):
            return
        if self._maybe_commit() and self.role == Role.LEADER:
            self._defer_bcast_append()

    def _maybe_commit(self) -> bool:
        """Leader: commit the highest index a quorum of voters has."""
        if not self.voters:
            return False
        matches = sorted((self.prs[v].match if v in self.prs else 0 for v in self.voters), reverse=True)
        if not self.log.maybe_commit(matches[self._quorum() - 1], self.term):
            return False
        committed = self.log.committed
        while self._uncommitted and self._uncommitted[0][0] <= committed:
            self.uncommitted_bytes -= self._uncommitted.popleft()[1]
        if self.read_only.waiting_commit:
            self._release_reads_waiting_commit()
        if self.id not in self.voters and committed >= self.config_index:
            self._become_follower(self.term, None, "removed from the configuration")
        return True

    def transfer_leadership(self, target: int) -> None:
        """Hand leadership to `target` (a voter): catch it up, then TimeoutNow."""
        if self.role != Role.LEADER:
            raise NotLeaderError(self.leader_id)
        if target == self.id:
            return
        if target not in self.voters:
            raise TransferError(f"node {target} is not a voter")
        if self.lead_transferee == target:
            return
        self.lead_transferee = target
        self.transfer_elapsed = 0
        if self.prs[target].match == self.log.last_index():
            self._send(TimeoutNow(src=self.id, dst=target, term=self.term))
        else:
            self._send_append(target)

    def compact(self, index: int, data: bytes) -> Snapshot:
        """Describe a state-machine snapshot taken at applied `index`. The
        caller then calls storage.create_snapshot(snap) and
        storage.compact(index) (kept outside the core: no I/O here)."""
        if index > self.log.applied:
            raise RaftError(f"snapshot index {index} beyond applied {self.log.applied}")
        if index <= self.log.snapshot().meta.index:
            raise CompactedError(f"snapshot index {index} not newer than {self.log.snapshot().meta.index}")
        meta = SnapshotMeta(index, self.log.term(index), self._config_at(index))
        return Snapshot(meta, bytes(data))
