"""The records the coordinator keeps in __consumer_offsets (our own format,
msgpack, documented here; Kafka's key types 1 and 2 kept as the tag).

key   [1, group_id, topic, partition]           an offset commit
value {"v": 1, "offset", "leader_epoch", "metadata", "commit_ts"}   (null: deleted)

key   [2, group_id]                             a group's metadata
value {"v": 1, "protocol_type", "generation", "protocol", "leader",
       "state_ts", "members": [[member_id, group_instance_id, client_id,
       client_host, rebalance_timeout_ms, session_timeout_ms,
       subscription, assignment], ...]}          (null: the group is deleted)

`subscription` is the member's metadata for the chosen protocol. The topic
is compacted: the last record of a key is the state; a null value (a
tombstone) removes the key. Replay applies records in log order.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

from rafka.broker.group.group import CommittedOffset, Group

OFFSET_KEY = 1
GROUP_KEY = 2
FORMAT_VERSION = 1


class RecordFormatError(ValueError):
    """A record in __consumer_offsets that is not ours or is malformed."""


@dataclass(frozen=True)
class OffsetRecord:
    group_id: str
    topic: str
    partition: int
    value: CommittedOffset | None


@dataclass(frozen=True)
class StoredMember:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    subscription: bytes
    assignment: bytes


@dataclass(frozen=True)
class GroupRecord:
    group_id: str
    protocol_type: str | None = None
    generation_id: int = 0
    protocol: str | None = None
    leader: str | None = None
    state_timestamp_ms: int = 0
    members: tuple[StoredMember, ...] = ()
    deleted: bool = False


def _pack(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def offset_key(group_id: str, topic: str, partition: int) -> bytes:
    return _pack([OFFSET_KEY, group_id, topic, partition])


def offset_value(o: CommittedOffset | None) -> bytes | None:
    if o is None:
        return None
    return _pack({"v": FORMAT_VERSION, "offset": o.offset, "leader_epoch": o.leader_epoch,
                  "metadata": o.metadata, "commit_ts": o.commit_timestamp_ms})


def group_key(group_id: str) -> bytes:
    return _pack([GROUP_KEY, group_id])


def group_value(g: Group) -> bytes:
    members = []
    for m in g.members.values():
        sub = b""
        if g.protocol is not None:
            try:
                sub = m.metadata_for(g.protocol)
            except KeyError:
                sub = b""
        members.append([m.member_id, m.group_instance_id, m.client_id, m.client_host,
                        m.rebalance_timeout_ms, m.session_timeout_ms, sub, m.assignment])
    return _pack({"v": FORMAT_VERSION, "protocol_type": g.protocol_type, "generation": g.generation_id,
                  "protocol": g.protocol, "leader": g.leader, "state_ts": g.state_timestamp_ms,
                  "members": members})


def decode(key: bytes | None, value: bytes | None) -> OffsetRecord | GroupRecord:
    """Raises RecordFormatError."""
    if key is None:
        raise RecordFormatError("record without a key")
    try:
        k = msgpack.unpackb(key, raw=False)
        v = None if value is None else msgpack.unpackb(value, raw=False)
        if not isinstance(k, list) or not k:
            raise RecordFormatError(f"bad key {k!r}")
        if k[0] == OFFSET_KEY and len(k) == 4:
            _, group_id, topic, partition = k
            if v is None:
                return OffsetRecord(group_id, topic, partition, None)
            return OffsetRecord(group_id, topic, partition, CommittedOffset(
                int(v["offset"]), int(v["leader_epoch"]), v["metadata"] or "", int(v["commit_ts"])))
        if k[0] == GROUP_KEY and len(k) == 2:
            group_id = k[1]
            if v is None:
                return GroupRecord(group_id, deleted=True)
            members = tuple(StoredMember(m[0], m[1], m[2], m[3], int(m[4]), int(m[5]), bytes(m[6]), bytes(m[7]))
                            for m in v["members"])
            return GroupRecord(group_id, v["protocol_type"], int(v["generation"]), v["protocol"], v["leader"],
                               int(v["state_ts"]), members)
    except (ValueError, KeyError, TypeError, IndexError, msgpack.ExtraData) as exc:
        raise RecordFormatError(str(exc)) from None
    raise RecordFormatError(f"unknown key type {k[0]!r}")
