"""Typed, versioned metadata records (KRaft-style) and their msgpack encoding.

Every change to cluster metadata is one of these records, appended to the
Raft metadata log by the active controller and applied in log order by every
node to its `MetadataImage`. A Raft entry carries a *batch* of records that
commit atomically (e.g. a TopicRecord followed by its PartitionRecords).

Wire form of one record: a msgpack array `[type_id, version, field...]` with
the fields in declaration order. A batch is a msgpack array of such arrays.
Type ids follow KRaft's where a KRaft record exists (RegisterBrokerRecord 0,
TopicRecord 2, PartitionRecord 3, ConfigRecord 4, PartitionChangeRecord 5,
FenceBrokerRecord 7, UnfenceBrokerRecord 8, RemoveTopicRecord 9).

Invariant: decoding never skips anything. An unknown type or version raises
`UnknownRecordError`; a wrong field count or type raises
`CorruptRecordError`. A node that cannot understand a committed record must
stop loudly rather than silently build a different image from its peers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import msgpack

# PartitionChangeRecord.leader sentinels (Kafka's): -1 = no leader, -2 = unchanged.
LEADER_NONE = -1
LEADER_NO_CHANGE = -2


class RecordError(Exception):
    """Base of every metadata record encoding error."""


class UnknownRecordError(RecordError):
    """A record type id or version this node does not understand."""


class CorruptRecordError(RecordError):
    """Bytes that are not a well-formed record (bad msgpack, fields, types)."""


# Field kinds, checked on decode. Each is (name, predicate).
def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_str(v: Any) -> bool:
    return type(v) is str


def _is_bool(v: Any) -> bool:
    return type(v) is bool


def _is_opt_int(v: Any) -> bool:
    return v is None or type(v) is int


def _is_opt_str(v: Any) -> bool:
    return v is None or type(v) is str


def _is_opt_bool(v: Any) -> bool:
    return v is None or type(v) is bool


def _is_ints(v: Any) -> bool:
    return type(v) in (list, tuple) and all(type(x) is int for x in v)


def _is_opt_ints(v: Any) -> bool:
    return v is None or _is_ints(v)


_KINDS = {
    "int": _is_int,
    "str": _is_str,
    "bool": _is_bool,
    "int|None": _is_opt_int,
    "str|None": _is_opt_str,
    "bool|None": _is_opt_bool,
    "tuple[int, ...]": _is_ints,
    "tuple[int, ...]|None": _is_opt_ints,
}

_TUPLE_FIELDS = ("tuple[int, ...]", "tuple[int, ...]|None")


class Record:
    """Base of metadata records. Subclasses are frozen dataclasses with
    `TYPE_ID` and `VERSION`; fields are encoded in declaration order."""

    __slots__ = ()
    TYPE_ID: ClassVar[int]
    VERSION: ClassVar[int] = 0
    _checks: ClassVar[tuple] = ()
    _tuple_idx: ClassVar[tuple[int, ...]] = ()


_REGISTRY: dict[int, type[Record]] = {}


def _record(cls):
    """Register a record class: compile its field checks once."""
    if cls.TYPE_ID in _REGISTRY:
        raise TypeError(f"duplicate record type id {cls.TYPE_ID}")
    kinds = []
    for f in fields(cls):
        kind = f.type.replace(" | ", "|") if isinstance(f.type, str) else str(f.type)
        if kind not in _KINDS:
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported field type {kind}")
        kinds.append(kind)
    cls._checks = tuple(_KINDS[k] for k in kinds)
    cls._tuple_idx = tuple(i for i, k in enumerate(kinds) if k in _TUPLE_FIELDS)
    _REGISTRY[cls.TYPE_ID] = cls
    return cls


@_record
@dataclass(frozen=True, slots=True)
class RegisterBrokerRecord(Record):
    """A broker incarnation registered. A new incarnation of a node id gets a
    new, larger broker_epoch and replaces the old registration. Brokers
    register fenced and are unfenced once caught up."""

    TYPE_ID: ClassVar[int] = 0
    node_id: int
    incarnation_id: str
    broker_epoch: int
    host: str
    port: int
    rack: str | None
    fenced: bool = True


@_record
@dataclass(frozen=True, slots=True)
class TopicRecord(Record):
    TYPE_ID: ClassVar[int] = 2
    name: str
    topic_id: str


@_record
@dataclass(frozen=True, slots=True)
class PartitionRecord(Record):
    """A partition's full state (creation). `leader` None = leaderless."""

    TYPE_ID: ClassVar[int] = 3
    topic_id: str
    partition: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int | None
    leader_epoch: int = 0
    partition_epoch: int = 0


@_record
@dataclass(frozen=True, slots=True)
class ConfigRecord(Record):
    """Set (value str) or delete (value None) one topic config key."""

    TYPE_ID: ClassVar[int] = 4
    topic: str
    key: str
    value: str | None


@_record
@dataclass(frozen=True, slots=True)
class PartitionChangeRecord(Record):
    """Only the changed fields of a partition. `leader`: LEADER_NO_CHANGE (-2)
    keeps it, LEADER_NONE (-1) makes the partition leaderless, >= 0 sets it.
    Applying it bumps partition_epoch always and leader_epoch whenever
    `leader` is not LEADER_NO_CHANGE (Kafka's rule: every election, even
    one re-electing the same broker, fences the old epoch)."""

    TYPE_ID: ClassVar[int] = 5
    topic_id: str
    partition: int
    leader: int = LEADER_NO_CHANGE
    isr: tuple[int, ...] | None = None
    replicas: tuple[int, ...] | None = None


@_record
@dataclass(frozen=True, slots=True)
class FenceBrokerRecord(Record):
    TYPE_ID: ClassVar[int] = 7
    node_id: int
    broker_epoch: int


@_record
@dataclass(frozen=True, slots=True)
class UnfenceBrokerRecord(Record):
    TYPE_ID: ClassVar[int] = 8
    node_id: int
    broker_epoch: int


@_record
@dataclass(frozen=True, slots=True)
class RemoveTopicRecord(Record):
    """Delete a topic, its partitions and its configs."""

    TYPE_ID: ClassVar[int] = 9
    topic_id: str


@_record
@dataclass(frozen=True, slots=True)
class BrokerShutdownRecord(Record):
    """The broker began a controlled shutdown: it gets no new leaderships and
    is not unfenced again until a new incarnation registers. (rafka's own
    record; KRaft folds this into BrokerRegistrationChangeRecord.)"""

    TYPE_ID: ClassVar[int] = 17
    node_id: int
    broker_epoch: int


@_record
@dataclass(frozen=True, slots=True)
class ProducerIdsRecord(Record):
    """KRaft's ProducerIdsRecord: broker `broker_id` was given the producer
    id block ending just below `next_producer_id`; the next block starts
    there. Ids are never handed out twice, across controller failovers."""

    TYPE_ID: ClassVar[int] = 15
    broker_id: int
    broker_epoch: int
    next_producer_id: int


def record_types() -> dict[int, type[Record]]:
    return dict(_REGISTRY)


def _to_row(rec: Record) -> list:
    row = [rec.TYPE_ID, rec.VERSION]
    row.extend(getattr(rec, name) for name in rec.__slots__)
    return row


def _from_row(row: Any) -> Record:
    if type(row) not in (list, tuple) or len(row) < 2:
        raise CorruptRecordError(f"record is not an array [type_id, version, ...]: {row!r:.80}")
    type_id, version = row[0], row[1]
    cls = _REGISTRY.get(type_id) if type(type_id) is int else None
    if cls is None:
        raise UnknownRecordError(f"unknown metadata record type id {type_id!r}")
    if version != cls.VERSION:
        raise UnknownRecordError(
            f"{cls.__name__} version {version!r} not supported (this node knows {cls.VERSION})"
        )
    values = list(row[2:])
    checks = cls._checks
    if len(values) != len(checks):
        raise CorruptRecordError(
            f"{cls.__name__} v{version}: {len(values)} fields, expected {len(checks)}"
        )
    for i, check in enumerate(checks):
        if not check(values[i]):
            raise CorruptRecordError(f"{cls.__name__} field {i} has bad value {values[i]!r:.60}")
    for i in cls._tuple_idx:
        if values[i] is not None:
            values[i] = tuple(values[i])
    return cls(*values)


def encode_record(rec: Record) -> bytes:
    return msgpack.packb(_to_row(rec), use_bin_type=True)


def decode_record(data: bytes) -> Record:
    try:
        row = msgpack.unpackb(data, raw=False, use_list=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise CorruptRecordError(f"bad msgpack in metadata record: {exc}") from exc
    return _from_row(row)


def encode_records(records: list[Record] | tuple[Record, ...]) -> bytes:
    """Encode a batch of records committed atomically in one Raft entry."""
    return msgpack.packb([_to_row(r) for r in records], use_bin_type=True)


def decode_records(data: bytes) -> list[Record]:
    try:
        rows = msgpack.unpackb(data, raw=False, use_list=True)
    except Exception as exc:
        raise CorruptRecordError(f"bad msgpack in metadata batch: {exc}") from exc
    if type(rows) is not list:
        raise CorruptRecordError("metadata batch is not an array of records")
    return [_from_row(row) for row in rows]


def record_to_json(rec: Record) -> dict:
    """A JSON-friendly dict for dump-log: {"type": name, "version", fields...}."""
    out: dict[str, Any] = {"type": type(rec).__name__, "version": rec.VERSION}
    for name in rec.__slots__:
        value = getattr(rec, name)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out
