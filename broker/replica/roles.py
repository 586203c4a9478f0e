"""Which partitions this broker leads, follows or stops serving (pure).

Kafka's TopicsDelta.localChanges: the ReplicaManager keeps the roles it
last acted on (`PartitionRole` per (topic_id, partition)) and, after each
metadata change, asks `diff_roles` what to do. Only the topics the change
touched need to be looked at (`topic_ids`), so a broker with thousands of
partitions does O(changed partitions) work per record batch.

A role is (leader?, leader_epoch). Rules:
- this broker in the replicas and the leader: become (or stay) leader; a new
  leader epoch is a new leadership (fences the old one, Kafka's rule: every
  election bumps the epoch, even one re-electing us);
- in the replicas, not the leader (another broker or none): follower; a new
  leader epoch means truncate-then-fetch again from the new leader;
- same epoch, changed ISR / partition epoch / replicas: `updated`;
- no longer in the replicas, or the partition gone: `stopped`;
- the topic gone from the image: listed in `deleted_topics` (its
  directories go).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rafka.broker.metadata.image import MetadataImage

PartitionKey = tuple[str, int]


@dataclass(frozen=True)
class PartitionRole:
    topic: str
    topic_id: str
    partition: int
    leader: int | None
    leader_epoch: int
    partition_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def key(self) -> PartitionKey:
        return (self.topic_id, self.partition)

    def is_leader(self, node_id: int) -> bool:
        return self.leader == node_id


@dataclass
class RoleChanges:
    become_leader: list[PartitionRole] = field(default_factory=list)
    become_follower: list[PartitionRole] = field(default_factory=list)
    updated: list[PartitionRole] = field(default_factory=list)
    stopped: list[PartitionRole] = field(default_factory=list)
    deleted_topics: list[tuple[str, str]] = field(default_factory=list)  # (topic_id, name)

    def __bool__(self) -> bool:
        return bool(self.become_leader or self.become_follower or self.updated or self.stopped
                    or self.deleted_topics)


def roles_of(image: MetadataImage, node_id: int) -> dict[PartitionKey, PartitionRole]:
    """Every partition `node_id` hosts in `image`."""
    out = {}
    for topic_id, p in image.partitions_of_replica(node_id):
        role = _role(image, topic_id, p)
        out[role.key] = role
    return out


def _role(image: MetadataImage, topic_id: str, p: int) -> PartitionRole:
    t = image.topics_by_id[topic_id]
    s = t.partitions[p]
    return PartitionRole(t.name, topic_id, p, s.leader, s.leader_epoch, s.partition_epoch, s.replicas, s.isr)


def diff_roles(current: dict[PartitionKey, PartitionRole], image: MetadataImage, node_id: int,
               topic_ids: Iterable[str] | None = None) -> RoleChanges:
    """What to do to go from `current` (the roles acted on) to `image`.
    `topic_ids`: only these topics changed (None: look at everything)."""
    changes = RoleChanges()
    if topic_ids is None:
        topic_ids = set(image.topics_by_id) | {k[0] for k in current}
    wanted = set(topic_ids)
    by_topic: dict[str, list[PartitionKey]] = {}
    for key in current:
        if key[0] in wanted:
            by_topic.setdefault(key[0], []).append(key)
    for topic_id in sorted(wanted):
        t = image.topics_by_id.get(topic_id)
        old_keys = sorted(by_topic.get(topic_id, ()))
        if t is None:
            changes.stopped.extend(current[k] for k in old_keys)
            if old_keys:
                changes.deleted_topics.append((topic_id, current[old_keys[0]].topic))
            continue
        seen = set()
        for s in t.partitions:
            if node_id not in s.replicas:
                continue
            new = _role(image, topic_id, s.partition)
            seen.add(new.key)
            old = current.get(new.key)
            if old is not None and old.leader_epoch == new.leader_epoch and old.leader == new.leader:
                if old != new:
                    changes.updated.append(new)
            elif new.leader == node_id:
                changes.become_leader.append(new)
            else:
                changes.become_follower.append(new)
        changes.stopped.extend(current[k] for k in old_keys if k not in seen)
    return changes


def role_changes(prev: MetadataImage | None, new: MetadataImage, node_id: int) -> RoleChanges:
    """The whole-image form: the changes between two images."""
    current = {} if prev is None else roles_of(prev, node_id)
    return diff_roles(current, new, node_id)


def apply_changes(current: dict[PartitionKey, PartitionRole], changes: RoleChanges) -> None:
    """Record that `changes` were acted on."""
    for role in changes.stopped:
        current.pop(role.key, None)
    for role in (*changes.become_leader, *changes.become_follower, *changes.updated):
        current[role.key] = role


def touched_topic_ids(image: MetadataImage, records) -> set[str]:
    """Topic ids a committed record batch may have changed for replicas
    (configs are by name; a removed topic is gone from the image but its id
    is in the record)."""
    out = set()
    for rec in records:
        tid = getattr(rec, "topic_id", None)
        if tid is not None:
            out.add(tid)
            continue
        name = getattr(rec, "topic", None)
        if name is not None:
            t = image.topic(name)
            if t is not None:
                out.add(t.topic_id)
    return out
