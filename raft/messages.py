"""The Raft messages. Each carries `src`, `dst` and `term` (the sender's
term; for a pre-vote request, the term the sender would campaign in).

Every message is a frozen dataclass with a `TYPE` class attribute and is
registered with netproto's schema so it can travel on the
peer listener. Field types stay within netproto's schema vocabulary (int,
bytes, bool, list[...], nested messages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rafka.raft.types import Entry

from rafka.netproto.schema import Message as _WireMessage
from rafka.netproto.schema import register as _register


class RaftMessage(_WireMessage):
    """Marker base; every subclass has src, dst, term."""

    TYPE: ClassVar[str] = ""
    src: int
    dst: int
    term: int


@dataclass(frozen=True)
class AppendEntries(RaftMessage):
    """Leader -> follower/learner: entries after (prev_log_index, prev_log_term)."""

    TYPE: ClassVar[str] = "raft.AppendEntries"
    src: int
    dst: int
    term: int
    prev_log_index: int
    prev_log_term: int
    entries: list[Entry] = field(default_factory=list)
    leader_commit: int = 0


@dataclass(frozen=True)
class AppendEntriesResponse(RaftMessage):
    """success: the follower's log matches the leader's up to match_index.
    Rejection: reject_index is the rejected prev_log_index; (hint_index,
    hint_term) is the follower's last entry at or below it whose term is
    <= the leader's prev_log_term (fast conflict backoff)."""

    TYPE: ClassVar[str] = "raft.AppendEntriesResponse"
    src: int
    dst: int
    term: int
    success: bool
    match_index: int = 0
    reject_index: int = 0
    hint_index: int = 0
    hint_term: int = 0


@dataclass(frozen=True)
class Heartbeat(RaftMessage):
    """Leader -> member: keeps followers from campaigning and carries commit
    (never beyond the member's match index) and the ReadIndex sequence."""

    TYPE: ClassVar[str] = "raft.Heartbeat"
    src: int
    dst: int
    term: int
    commit: int = 0
    read_seq: int = 0


@dataclass(frozen=True)
class HeartbeatResponse(RaftMessage):
    TYPE: ClassVar[str] = "raft.HeartbeatResponse"
    src: int
    dst: int
    term: int
    read_seq: int = 0


@dataclass(frozen=True)
class RequestVote(RaftMessage):
    """pre_vote: a trial election that changes no term or vote.
    transfer: sent because of TimeoutNow, so leader stickiness is bypassed."""

    TYPE: ClassVar[str] = "raft.RequestVote"
    src: int
    dst: int
    term: int
    last_log_index: int
    last_log_term: int
    pre_vote: bool = False
    transfer: bool = False


@dataclass(frozen=True)
class RequestVoteResponse(RaftMessage):
    TYPE: ClassVar[str] = "raft.RequestVoteResponse"
    src: int
    dst: int
    term: int
    granted: bool
    pre_vote: bool = False


@dataclass(frozen=True)
class SnapshotRequest(RaftMessage):
    """One chunk of a snapshot: bytes [offset, offset+len(chunk)) of the
    snapshot data; done marks the last chunk."""

    TYPE: ClassVar[str] = "raft.SnapshotRequest"
    src: int
    dst: int
    term: int
    snapshot_index: int
    snapshot_term: int
    voters: list[int]
    learners: list[int]
    offset: int
    chunk: bytes
    done: bool


@dataclass(frozen=True)
class SnapshotResponse(RaftMessage):
    """done=False: the receiver wants bytes from next_offset on.
    done=True: snapshot installed (or not needed); log matches to match_index."""

    TYPE: ClassVar[str] = "raft.SnapshotResponse"
    src: int
    dst: int
    term: int
    snapshot_index: int
    next_offset: int = 0
    done: bool = False
    match_index: int = 0


@dataclass(frozen=True)
class TimeoutNow(RaftMessage):
    """Leader -> transfer target: campaign now (leadership transfer)."""

    TYPE: ClassVar[str] = "raft.TimeoutNow"
    src: int
    dst: int
    term: int


@dataclass(frozen=True)
class ReadIndexRequest(RaftMessage):
    """Follower -> leader: please run ReadIndex for request_ctx."""

    TYPE: ClassVar[str] = "raft.ReadIndexRequest"
    src: int
    dst: int
    term: int
    request_ctx: bytes


@dataclass(frozen=True)
class ReadIndexResponse(RaftMessage):
    TYPE: ClassVar[str] = "raft.ReadIndexResponse"
    src: int
    dst: int
    term: int
    request_ctx: bytes
    index: int


ALL_MESSAGES: tuple[type, ...] = (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    RequestVote,
    RequestVoteResponse,
    SnapshotRequest,
    SnapshotResponse,
    TimeoutNow,
    ReadIndexRequest,
    ReadIndexResponse,
)

for _cls in ALL_MESSAGES:
    _register(_cls)
