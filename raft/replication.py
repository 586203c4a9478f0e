"""Log replication for RaftCore (a mixin): the leader's AppendEntries /
heartbeat / chunked snapshot sending and response handling, and the
follower's side of the same messages.

Flow control: a member in REPLICATE gets at most `inflight_msgs_max`
unacknowledged appends of at most `msg_bytes_max` each; a member in PROBE
gets one append per response or heartbeat; a member in SNAPSHOT gets one
snapshot chunk per response (stop-and-wait), re-sent after an election
timeout of silence.
"""

from __future__ import annotations

from dataclasses import dataclass

from rafka.raft.errors import CompactedError
from rafka.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    SnapshotRequest,
    SnapshotResponse,
    TimeoutNow,
)
from rafka.raft.progress import ProgressState
from rafka.raft.types import ConfigState, EntryKind, Role, Snapshot, SnapshotMeta


@dataclass
class _SnapshotBuffer:
    """A snapshot being received, chunk by chunk."""

    index: int
    term: int
    config: ConfigState
    data: bytearray


class ReplicationMixin:
    # ---------------- leader side ----------------
    def _send_append(self, to: int, send_if_empty: bool = True) -> bool:
        pr = self.prs[to]
        if pr.is_paused():
            return False
        prev = pr.next - 1
        try:
            prev_term = self.log.term(prev)
            ents = self.log.entries_from(pr.next, self.cfg.msg_bytes_max)
        except CompactedError:
            return self._send_snapshot(to)
        if not ents and not send_if_empty:
            return False
        self._send(
            AppendEntries(
                src=self.id,
                dst=to,
                term=self.term,
                prev_log_index=prev,
                prev_log_term=prev_term,
                entries=ents,
                leader_commit=self.log.committed,
            )
        )
        if pr.state == ProgressState.REPLICATE and ents:
            last = ents[-1].index
            pr.optimistic_update(last)
            pr.inflights.add(last)
        elif pr.state == ProgressState.PROBE:
            pr.probe_sent = True
        return True

    def _bcast_append(self) -> None:
        for member in sorted(self.prs):
            if member != self.id:
                self._send_append(member)

    def _defer_append(self, member: int, send_if_empty: bool) -> None:
        """Mark `member` as owed an AppendEntries (built in `_flush_appends`,
        at the next `ready()`), so many proposals and acknowledgements
        stepped between two Readys share one message per member."""
        self._pending_appends[member] = self._pending_appends.get(member, False) or send_if_empty

    def _defer_bcast_append(self) -> None:
        for member in self.prs:
            if member != self.id:
                self._defer_append(member, True)

    def _flush_appends(self) -> None:
        """Send what `_defer_append` owed: for each marked member, every
        entry it may get now (flow control permitting), or an empty append
        carrying the commit index when it was marked `send_if_empty`."""
        pending = self._pending_appends
        if not pending:
            return
        self._pending_appends = {}
        if self.role != Role.LEADER:
            return
        for member in sorted(pending):
            if member == self.id or member not in self.prs:
                continue
            if self._send_append(member, send_if_empty=pending[member]):
                while self._send_append(member, send_if_empty=False):
                    pass

    def _bcast_heartbeat(self) -> None:
        seq = self.read_only.last_seq
        for member in sorted(self.prs):
            if member == self.id:
                continue
            pr = self.prs[member]
            commit = min(pr.match, self.log.committed)
            self._send(Heartbeat(src=self.id, dst=member, term=self.term, commit=commit, read_seq=seq))

    def _send_snapshot(self, to: int) -> bool:
        pr = self.prs[to]
        snap = self.log.snapshot()
        assert not snap.is_empty, "entries compacted without a snapshot"
        pr.become_snapshot(snap.meta.index)
        self._send_snapshot_chunk(to)
        return True

    def _send_snapshot_chunk(self, to: int) -> None:
        pr = self.prs[to]
        snap = self.log.snapshot()
        if snap.meta.index != pr.pending_snapshot:
            pr.become_snapshot(snap.meta.index)  # a newer snapshot replaced it
        offset = min(pr.snapshot_offset, len(snap.data))
        chunk = snap.data[offset : offset + self.cfg.snapshot_chunk_bytes]
        self._send(
            SnapshotRequest(
                src=self.id,
                dst=to,
                term=self.term,
                snapshot_index=snap.meta.index,
                snapshot_term=snap.meta.term,
                voters=sorted(snap.meta.config.voters),
                learners=sorted(snap.meta.config.learners),
                offset=offset,
                chunk=bytes(chunk),
                done=offset + len(chunk) >= len(snap.data),
            )
        )
        pr.snapshot_idle_ticks = 0

    def _retry_stalled_snapshots(self) -> None:
        for member in sorted(self.prs):
            pr = self.prs[member]
            if member == self.id or pr.state != ProgressState.SNAPSHOT:
                continue
            pr.snapshot_idle_ticks += 1
            if pr.snapshot_idle_ticks >= self.cfg.election_timeout_ticks:
                self._send_snapshot_chunk(member)

    def _handle_append_response(self, msg: AppendEntriesResponse) -> None:
        pr = self.prs.get(msg.src)
        if pr is None:
            return
        pr.recent_active = True
        pr.last_contact_ticks = 0
        if not msg.success:
            next_probe = msg.hint_index
            if msg.hint_term > 0:
                next_probe, _ = self.log.find_conflict_by_term(
                    min(msg.hint_index, self.log.last_index()), msg.hint_term
                )
            if pr.maybe_decr_to(msg.reject_index, next_probe):
                if pr.state == ProgressState.REPLICATE:
                    pr.become_probe()
                self._send_append(msg.src)
            return
        old_paused = pr.is_paused()
        if not pr.maybe_update(msg.match_index):
            return
        if pr.state == ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state == ProgressState.SNAPSHOT:
            pr.become_replicate()
        else:
            pr.inflights.free_le(msg.match_index)
        if self._maybe_commit():
            if self.role != Role.LEADER:
                return
            self._defer_bcast_append()
        else:
            self._defer_append(msg.src, old_paused)
        if msg.src == self.lead_transferee and pr.match == self.log.last_index():
            self._send(TimeoutNow(src=self.id, dst=msg.src, term=self.term))

    def _handle_heartbeat_response(self, msg: HeartbeatResponse) -> None:
        pr = self.prs.get(msg.src)
        if pr is None:
            return
        pr.recent_active = True
        pr.last_contact_ticks = 0
        pr.probe_sent = False
        if pr.state == ProgressState.REPLICATE and pr.inflights.full():
            pr.inflights.free_first_one()
        if pr.match < self.log.last_index():
            self._send_append(msg.src)
        self._read_ack(msg.src, msg.read_seq)

    def _handle_snapshot_response(self, msg: SnapshotResponse) -> None:
        pr = self.prs.get(msg.src)
        if pr is None:
            return
        pr.recent_active = True
        pr.last_contact_ticks = 0
        if msg.done:
            pr.maybe_update(msg.match_index)
            if pr.state == ProgressState.SNAPSHOT:
                pr.become_probe()
            self._send_append(msg.src)
            return
        if pr.state != ProgressState.SNAPSHOT or msg.snapshot_index != pr.pending_snapshot:
            return
        pr.snapshot_offset = max(0, msg.next_offset)
        self._send_snapshot_chunk(msg.src)

    # ---------------- follower side ----------------
    def _handle_append(self, msg: AppendEntries) -> None:
        if msg.prev_log_index < self.log.committed:
            self._send(
                AppendEntriesResponse(
                    src=self.id, dst=msg.src, term=self.term, success=True, match_index=self.log.committed
                )
            )
            return
        old_last = self.log.last_index()
        last_new = self.log.maybe_append(msg.prev_log_index, msg.prev_log_term, msg.leader_commit, msg.entries)
        if last_new is None:
            hint_index = min(msg.prev_log_index, self.log.last_index())
            hint_index, hint_term = self.log.find_conflict_by_term(hint_index, msg.prev_log_term)
            self._send(
                AppendEntriesResponse(
                    src=self.id,
                    dst=msg.src,
                    term=self.term,
                    success=False,
                    reject_index=msg.prev_log_index,
                    hint_index=hint_index,
                    hint_term=hint_term,
                )
            )
            return
        if msg.entries:
            self._config_after_append(msg.entries, old_last)
        self._send(
            AppendEntriesResponse(src=self.id, dst=msg.src, term=self.term, success=True, match_index=last_new)
        )

    def _config_after_append(self, entries, old_last: int) -> None:
        """Configurations take effect when appended; a truncated suffix may
        have held the current one, then the older one applies again."""
        if not self.log.match_term(self.config_index, self.config_term) and self.config_index >= self.log.first_index():
            self._reload_config()
            return
        for e in reversed(entries):
            if e.kind == EntryKind.CONFIG and self.log.match_term(e.index, e.term):
                if e.index > self.config_index:
                    self._apply_config(ConfigState.decode(e.data), e.index, e.term)
                break

    def _handle_heartbeat(self, msg: Heartbeat) -> None:
        self.log.commit_to(min(msg.commit, self.log.last_index()))
        self._send(HeartbeatResponse(src=self.id, dst=msg.src, term=self.term, read_seq=msg.read_seq))

    def _handle_snapshot_request(self, msg: SnapshotRequest) -> None:
        def reply(**kw) -> None:
            self._send(
                SnapshotResponse(src=self.id, dst=msg.src, term=self.term, snapshot_index=msg.snapshot_index, **kw)
            )

        if msg.snapshot_index <= self.log.committed:
            self._snap_recv = None
            reply(done=True, match_index=self.log.committed)
            return
        buf = self._snap_recv
        if msg.offset == 0:
            config = ConfigState(frozenset(msg.voters), frozenset(msg.learners))
            buf = self._snap_recv = _SnapshotBuffer(msg.snapshot_index, msg.snapshot_term, config, bytearray())
        elif (
            buf is None
            or (buf.index, buf.term) != (msg.snapshot_index, msg.snapshot_term)
            or msg.offset != len(buf.data)
        ):
            same = buf is not None and (buf.index, buf.term) == (msg.snapshot_index, msg.snapshot_term)
            reply(next_offset=len(buf.data) if same else 0)
            return
        if len(buf.data) + len(msg.chunk) > self.cfg.snapshot_bytes_max:
            self._snap_recv = None  # refuse; the leader retries and the operator sees it stuck
            return
        buf.data += msg.chunk
        if not msg.done:
            reply(next_offset=len(buf.data))
            return
        self._snap_recv = None
        snap = Snapshot(SnapshotMeta(buf.index, buf.term, buf.config), bytes(buf.data))
        self._restore(snap)
        reply(done=True, match_index=max(self.log.committed, snap.meta.index))

    def _restore(self, snap: Snapshot) -> bool:
        """Install a snapshot from the leader unless the log already has it."""
        if snap.meta.index <= self.log.committed:
            return False
        if self.log.match_term(snap.meta.index, snap.meta.term):
            self.log.commit_to(snap.meta.index)
            return False
        self.log.restore(snap)
        self._apply_config(snap.meta.config, snap.meta.index, snap.meta.term)
        return True
