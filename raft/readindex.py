"""ReadIndex (Raft dissertation 6.4) for RaftCore.

The leader records the commit index when a read arrives, then confirms it is
still the leader by a heartbeat round: every heartbeat carries `read_seq`,
the sequence number of the newest registered read, and a member echoes it.
A read with sequence s is safe once a quorum of voters (the leader counts
itself) echoed a sequence >= s, because those heartbeats were sent after the
read was registered. A new leader serves reads only once it has committed an
entry of its own term (its no-op), so its commit index is at least every
earlier leader's; reads arriving before that wait in `waiting_commit`.

Followers forward reads to the leader (ReadIndexRequest) and turn the answer
into a ReadState. Both queues are bounded by `pending_read_index_max`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rafka.raft.errors import NotLeaderError, ReadIndexError
from rafka.raft.messages import ReadIndexRequest, ReadIndexResponse
from rafka.raft.types import ReadState, Role


@dataclass(frozen=True)
class _PendingRead:
    seq: int
    index: int
    ctx: bytes
    requester: int


class ReadOnly:
    def __init__(self) -> None:
        self.last_seq = 0
        self.pending: deque[_PendingRead] = deque()
        self.acks: dict[int, int] = {}
        self.waiting_commit: deque[tuple[bytes, int]] = deque()

    def __len__(self) -> int:
        return len(self.pending) + len(self.waiting_commit)

    def add(self, index: int, ctx: bytes, requester: int) -> int:
        self.last_seq += 1
        self.pending.append(_PendingRead(self.last_seq, index, ctx, requester))
        return self.last_seq


class ReadIndexMixin:
    def read_index(self, ctx: bytes) -> None:
        """Ask for a linearizable read point; the answer is a ReadState with
        this ctx in a later Ready. Raises NotLeaderError when no leader is
        known and ReadIndexError when too many reads are pending."""
        if not isinstance(ctx, bytes):
            raise ReadIndexError("read ctx must be bytes")
        if self.role == Role.LEADER:
            if len(self.read_only) >= self.cfg.pending_read_index_max:
                raise ReadIndexError("too many pending reads")
            self._leader_read(ctx, self.id)
            return
        if self.leader_id is None:
            raise NotLeaderError(None)
        self._send(ReadIndexRequest(src=self.id, dst=self.leader_id, term=self.term, request_ctx=ctx))

    def _committed_in_term(self) -> bool:
        return self.log.match_term(self.log.committed, self.term)

    def _leader_read(self, ctx: bytes, requester: int) -> None:
        if not self._committed_in_term():
            self.read_only.waiting_commit.append((ctx, requester))
            return
        if self.voters == {self.id}:
            self._answer_read(self.log.committed, ctx, requester)
            return
        self.read_only.add(self.log.committed, ctx, requester)
        self._bcast_heartbeat()

    def _handle_read_index_request(self, msg: ReadIndexRequest) -> None:
        if len(self.read_only) >= self.cfg.pending_read_index_max:
            return  # dropped; the follower's caller times out
        self._leader_read(msg.request_ctx, msg.src)

    def _handle_read_index_response(self, msg: ReadIndexResponse) -> None:
        self.read_states.append(ReadState(msg.index, msg.request_ctx))

    def _answer_read(self, index: int, ctx: bytes, requester: int) -> None:
        if requester == self.id:
            self.read_states.append(ReadState(index, ctx))
        else:
            self._send(ReadIndexResponse(src=self.id, dst=requester, term=self.term, request_ctx=ctx, index=index))

    def _read_ack(self, member: int, seq: int) -> None:
        ro = self.read_only
        if not ro.pending or member not in self.voters:
            return
        ro.acks[member] = max(ro.acks.get(member, 0), seq)
        acked = sorted(
            (ro.last_seq if v == self.id else ro.acks.get(v, 0) for v in self.voters), reverse=True
        )
        safe_seq = acked[self._quorum() - 1]
        while ro.pending and ro.pending[0].seq <= safe_seq:
            read = ro.pending.popleft()
            self._answer_read(read.index, read.ctx, read.requester)

    def _release_reads_waiting_commit(self) -> None:
        waiting = self.read_only.waiting_commit
        self.read_only.waiting_commit = deque()
        for ctx, requester in waiting:
            self._leader_read(ctx, requester)
