"""Plain value types shared by the Raft core, its storages, the driver and the
simulator.

Invariants:
- Node ids are positive ints; `None` means "no node" (no vote, no leader).
- Log indexes start at 1; index 0 with term 0 is the empty log's sentinel.
- A `ConfigState` is a whole configuration (not a delta): every CONFIG entry
  carries the full configuration it installs, so the configuration at any
  index is the one of the newest CONFIG entry at or below it (or the
  snapshot's / the bootstrap configuration).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar

import msgpack

from rafka.netproto.schema import Message


class Role(str, enum.Enum):
    """A node's role in the quorum. Learners are followers that are not in
    the voter set (they never campaign); see `raft.core` for the transitions."""

    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class EntryKind(enum.IntEnum):
    NORMAL = 0  # application data
    CONFIG = 1  # data = encoded ConfigState, effective as soon as appended
    NOOP = 2  # appended by a new leader to commit entries of older terms


class ConfChangeKind(str, enum.Enum):
    ADD_LEARNER = "add_learner"
    ADD_VOTER = "add_voter"
    REMOVE_VOTER = "remove_voter"
    REMOVE_LEARNER = "remove_learner"


ENTRY_OVERHEAD_BYTES = 24  # rough per-entry cost used by byte limits


@dataclass(frozen=True, slots=True)
class Entry(Message):
    """One log entry; a netproto Message so AppendEntries can nest it."""

    TYPE: ClassVar[str] = "raft.Entry"
    term: int
    index: int
    kind: EntryKind = EntryKind.NORMAL
    data: bytes = b""

    @property
    def size_bytes(self) -> int:
        return len(self.data) + ENTRY_OVERHEAD_BYTES


@dataclass(frozen=True, slots=True)
class ConfigState:
    """A whole quorum configuration. Voters and learners are disjoint."""

    voters: frozenset[int] = frozenset()
    learners: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "voters", frozenset(self.voters))
        object.__setattr__(self, "learners", frozenset(self.learners))
        assert not (self.voters & self.learners), "voters and learners overlap"

    @property
    def members(self) -> frozenset[int]:
        return self.voters | self.learners

    def encode(self) -> bytes:
        return msgpack.packb({"voters": sorted(self.voters), "learners": sorted(self.learners)})

    @classmethod
    def decode(cls, data: bytes) -> "ConfigState":
        obj = msgpack.unpackb(data)
        return cls(frozenset(obj["voters"]), frozenset(obj["learners"]))


@dataclass(frozen=True, slots=True)
class HardState:
    """What must be durable before any reply depending on it is sent."""

    term: int = 0
    vote: int | None = None
    commit: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    index: int = 0
    term: int = 0
    config: ConfigState = field(default_factory=ConfigState)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A state-machine snapshot covering every entry up to `meta.index`."""

    meta: SnapshotMeta = field(default_factory=SnapshotMeta)
    data: bytes = b""

    @property
    def is_empty(self) -> bool:
        return self.meta.index == 0


@dataclass(frozen=True, slots=True)
class ReadState:
    """A ReadIndex answer: reads tagged `request_ctx` are linearizable once
    the state machine has applied `index`."""

    index: int
    request_ctx: bytes


@dataclass(frozen=True, slots=True)
class SoftState:
    """Volatile state worth reporting; `reason` says why it last changed."""

    role: Role
    leader_id: int | None
    term: int = 0
    reason: str = ""

    def same(self, other: "SoftState | None") -> bool:
        return other is not None and (self.role, self.leader_id) == (other.role, other.leader_id)


@dataclass(slots=True)
class Ready:
    """One batch of work from the core. The caller must, in order:
    1. persist `snapshot` (if any), `entries` (truncating the stored log from
       `entries[0].index` first) and `hard_state` (if any), durably;
    2. send `messages`;
    3. restore `snapshot` into the state machine (if any), then apply
       `committed_entries` in order;
    4. call `core.advance(ready)`.
    """

    hard_state: HardState | None = None
    soft_state: SoftState | None = None
    entries: list[Entry] = field(default_factory=list)
    snapshot: Snapshot | None = None
    messages: list = field(default_factory=list)
    committed_entries: list[Entry] = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)
    # Decisions worth a log line (e.g. a vote granted or rejected, with its
    # reason) as (event name, fields); the driver logs them. Keeps the core
    # free of I/O while the node's log still says what it decided and why.
    events: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def must_sync(self) -> bool:
        return bool(self.entries) or self.hard_state is not None or self.snapshot is not None
