"""Node messages on the peer listener; never Raft traffic.

rafka's own tools (the test harnesses, the jepsen harness, `quorum up`,
`brokers list`, the benchmarks) ask these as "client" connections of the
peer listener, which must name the cluster id in their handshake (Kafka
clients use the Kafka listener; the msgpack client listener is retired).

- QuorumStatusRequest -> QuorumStatusResponse: a node's view of the metadata
  quorum. The leader knows every member's log end and last contact; a
  follower answers with what it knows (its own log, the leader id and, when
  known, the leader's peer address) so a tool can retry at the leader.
- BenchAppendRequest -> BenchAppendResponse: benchmark-only. Appends opaque
  entries to the metadata log and answers once they are committed and
  applied. A node serves it only when started with `--bench`; otherwise the
  request type is not even accepted.
- JoinAsObserverRequest -> JoinAsObserverResponse (from peers): a node that
  is not in its own voters table announces its peer address to every member
  it knows; the Raft leader also adds it as a learner. The answer carries
  the answering node's address book, so the joiner learns members it has no
  static address for.
- AddVoterRequest / RemoveVoterRequest -> MembershipChangeResponse: single-
  server voter changes. From a tool: forwarded once to the leader's peer
  listener; from a peer: decided there or refused with NOT_CONTROLLER.
  (`rafka quorum add-voter|remove-voter` uses Kafka's AddRaftVoter and
  RemoveRaftVoter on the Kafka listener.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rafka.netproto.schema import Message, register

# A BenchAppend may carry at most this many entries, each at most this big.
BENCH_ENTRIES_PER_REQUEST_MAX = 1024
BENCH_ENTRY_BYTES_MAX = 64 * 1024


@dataclass(frozen=True)
class ReplicaState(Message):
    """One quorum member as the answering node sees it (lag is in entries,
    relative to the leader's log end; None fields are unknown)."""

    TYPE = "node.ReplicaState"
    node_id: int
    log_end_offset: int | None = None
    lag: int | None = None
    last_contact_ms: int | None = None


@register
@dataclass(frozen=True)
class QuorumStatusRequest(Message):
    TYPE = "node.QuorumStatusRequest"


@register
@dataclass(frozen=True)
class QuorumStatusResponse(Message):
    TYPE = "node.QuorumStatusResponse"
    cluster_id: str
    node_id: int
    role: str
    leader_id: int | None
    term: int
    commit_index: int
    applied_index: int
    log_end_offset: int
    voters: list[ReplicaState] = field(default_factory=list)
    observers: list[ReplicaState] = field(default_factory=list)
    leader_peer_address: str | None = None
    # The state machine's own summary (e.g. an entry count and a digest of
    # everything applied), so tests can compare replicas.
    state_machine: dict[str, str] = field(default_factory=dict)


@register
@dataclass(frozen=True)
class BenchAppendRequest(Message):
    TYPE = "node.BenchAppendRequest"
    entries: list[bytes]


@register
@dataclass(frozen=True)
class BenchAppendResponse(Message):
    TYPE = "node.BenchAppendResponse"
    first_index: int
    last_index: int
    term: int


@register
@dataclass(frozen=True)
class JoinAsObserverRequest(Message):
    TYPE = "node.JoinAsObserverRequest"
    node_id: int
    peer_address: str  # "host:port" of the sender's peer listener


@register
@dataclass(frozen=True)
class JoinAsObserverResponse(Message):
    TYPE = "node.JoinAsObserverResponse"
    member: bool  # the joiner is a voter or learner in the answering node's configuration
    leader_id: int | None
    # node id (as text) -> "host:port", of the answering node's address book.
    peer_addresses: dict[str, str] = field(default_factory=dict)


@register
@dataclass(frozen=True)
class AddVoterRequest(Message):
    TYPE = "node.AddVoterRequest"
    node_id: int


@register
@dataclass(frozen=True)
class RemoveVoterRequest(Message):
    TYPE = "node.RemoveVoterRequest"
    node_id: int


@register
@dataclass(frozen=True)
class MembershipChangeResponse(Message):
    TYPE = "node.MembershipChangeResponse"
    voters: list[int]
    observers: list[int]


# What a tool may ask (besides the metadata services' and bench tables).
TOOL_TYPES = frozenset({QuorumStatusRequest.TYPE})
MEMBERSHIP_TOOL_TYPES = frozenset({AddVoterRequest.TYPE, RemoveVoterRequest.TYPE})
MEMBERSHIP_PEER_TYPES = MEMBERSHIP_TOOL_TYPES | {JoinAsObserverRequest.TYPE}
BENCH_TYPES = frozenset({BenchAppendRequest.TYPE})
