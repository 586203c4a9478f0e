"""The MetadataImage: cluster metadata built by applying committed records.

Every node applies the committed metadata log, in order, to its image; the
image is what every decision reads (controller choices, broker leadership,
client metadata). Applying is in place and O(changed partitions): a fence of
a broker leading 500 partitions touches ~500 entries, never the whole image.
Partition and broker states are immutable NamedTuples that are *replaced* on
change, so a reader holding one sees a consistent value; the containers are
mutated. A controller that wants to decide ahead of commit works on a
`clone()` (see broker/controller/controller.py).

Invariants after every apply (checked, a violation raises
MetadataApplyError — every node applying the same log raises the same):
- partitions of a topic are numbered 0..n-1; replicas are distinct and
  non-empty; isr is a non-empty subset of replicas; leader is None or in isr.
- indexes agree with partition states: `partitions_of_replica(b)` holds every
  partition listing b as a replica, `partitions_led_by(b)` every partition b
  leads, `leaderless()` every partition without a leader, `imbalanced()`
  every led partition whose leader is not its preferred (first) replica.
- `offset` never decreases; records of one Raft entry share its offset.
"""

from __future__ import annotations

from typing import NamedTuple

import structlog

from rafka.broker.metadata import records as r

log = structlog.get_logger("rafka.metadata")

PartitionKey = tuple[str, int]  # (topic_id, partition)


class MetadataApplyError(Exception):
    """A committed record cannot be applied to this image (a controller bug
    or a corrupt log); the node must stop rather than diverge."""


class BrokerRegistration(NamedTuple):
    node_id: int
    incarnation_id: str
    broker_epoch: int
    host: str
    port: int
    rack: str | None
    fenced: bool
    in_controlled_shutdown: bool
    registered_offset: int  # log offset of the RegisterBrokerRecord

    @property
    def eligible(self) -> bool:
        """May lead partitions and receive new replicas."""
        return not self.fenced and not self.in_controlled_shutdown


class PartitionState(NamedTuple):
    topic_id: str
    partition: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int | None
    leader_epoch: int
    partition_epoch: int


class TopicImage:
    """One topic: its partitions (index = partition number) and configs."""

    __slots__ = ("name", "topic_id", "partitions", "configs", "digest_cache", "blob_cache")

    def __init__(self, name: str, topic_id: str) -> None:
        self.name = name
        self.topic_id = topic_id
        self.partitions: list[PartitionState] = []
        self.configs: dict[str, str] = {}
        # Canonical encoding and its sha256, rebuilt lazily after a change.
        self.digest_cache: bytes | None = None
        self.blob_cache: bytes | None = None

    def changed(self) -> None:
        self.digest_cache = None
        self.blob_cache = None


class MetadataImage:
    def __init__(self) -> None:
        self.offset = -1
        self.last_broker_epoch = 0
        # First producer id not yet handed out (ProducerIdsRecord).
        self.next_producer_id = 0
        self.brokers: dict[int, BrokerRegistration] = {}
        self.topics_by_id: dict[str, TopicImage] = {}
        self.topics_by_name: dict[str, TopicImage] = {}
        self.partition_count = 0
        self._by_replica: dict[int, set[PartitionKey]] = {}
        self._by_leader: dict[int, set[PartitionKey]] = {}
        self._leaderless: set[PartitionKey] = set()
        self._imbalanced: set[PartitionKey] = set()
        self._digest_cache: bytes | None = None

    # ----------------------------------------------------------------- reads
    def topic(self, name: str) -> TopicImage | None:
        return self.topics_by_name.get(name)

    def partition(self, topic_id: str, partition: int) -> PartitionState | None:
        t = self.topics_by_id.get(topic_id)
        if t is None or not 0 <= partition < len(t.partitions):
            return None
        return t.partitions[partition]

    def partitions_of_replica(self, node_id: int) -> frozenset[PartitionKey]:
        return frozenset(self._by_replica.get(node_id, ()))

    def partitions_led_by(self, node_id: int) -> frozenset[PartitionKey]:
        return frozenset(self._by_leader.get(node_id, ()))

    def replica_count(self, node_id: int) -> int:
        return len(self._by_replica.get(node_id, ()))

    def leader_count(self, node_id: int) -> int:
        return len(self._by_leader.get(node_id, ()))

    def leaderless(self) -> frozenset[PartitionKey]:
        return frozenset(self._leaderless)

    def imbalanced(self) -> frozenset[PartitionKey]:
        return frozenset(self._imbalanced)

    @property
    def leaderless_count(self) -> int:
        return len(self._leaderless)

    @property
    def imbalanced_count(self) -> int:
        return len(self._imbalanced)

    def is_eligible(self, node_id: int) -> bool:
        b = self.brokers.get(node_id)
        return b is not None and b.eligible

    def eligible_brokers(self) -> list[BrokerRegistration]:
        return sorted((b for b in self.brokers.values() if b.eligible), key=lambda b: b.node_id)

    # ---------------------------------------------------------------- writes
    def apply(self, record: r.Record, offset: int) -> MetadataImage:
        """Apply one committed record at log `offset`; returns self."""
        if offset < self.offset:
            raise MetadataApplyError(f"offset {offset} is behind the image at {self.offset}")
        handler = _HANDLERS.get(type(record))
        if handler is None:
            raise MetadataApplyError(f"no apply rule for {type(record).__name__}")
        handler(self, record, offset)
        self.offset = offset
        self._digest_cache = None
        return self

    def apply_batch(self, records: list[r.Record], offset: int) -> MetadataImage:
        for rec in records:
            self.apply(rec, offset)
        self.offset = max(self.offset, offset)
        return self

    def advance(self, offset: int) -> None:
        """Move to `offset` for an entry without records (Raft no-op/config)."""
        if offset < self.offset:
            raise MetadataApplyError(f"offset {offset} is behind the image at {self.offset}")
        self.offset = offset

    # -------------------------------------------------------------- handlers
    def _register(self, rec: r.RegisterBrokerRecord, offset: int) -> None:
        old = self.brokers.get(rec.node_id)
        if old is not None and rec.broker_epoch <= old.broker_epoch:
            raise MetadataApplyError(
                f"broker {rec.node_id}: epoch {rec.broker_epoch} not above {old.broker_epoch}"
            )
        self.brokers[rec.node_id] = BrokerRegistration(
            rec.node_id, rec.incarnation_id, rec.broker_epoch, rec.host, rec.port,
            rec.rack, rec.fenced, False, offset,
        )
        self.last_broker_epoch = max(self.last_broker_epoch, rec.broker_epoch)

    def _current_broker(self, node_id: int, broker_epoch: int, what: str):
        b = self.brokers.get(node_id)
        if b is None:
            raise MetadataApplyError(f"{what} for unregistered broker {node_id}")
        if b.broker_epoch != broker_epoch:
            # Decided for an incarnation that has since been replaced: moot.
            log.warning("metadata.stale_broker_record", record=what, node_id=node_id,
                        broker_epoch=broker_epoch, current_epoch=b.broker_epoch)
            return None
        return b

    def _fence(self, rec: r.FenceBrokerRecord, offset: int) -> None:
        b = self._current_broker(rec.node_id, rec.broker_epoch, "FenceBrokerRecord")
        if b is not None:
            self.brokers[rec.node_id] = b._replace(fenced=True)

    def _unfence(self, rec: r.UnfenceBrokerRecord, offset: int) -> None:
        b = self._current_broker(rec.node_id, rec.broker_epoch, "UnfenceBrokerRecord")
        if b is not None:
            self.brokers[rec.node_id] = b._replace(fenced=False)

    def _shutdown(self, rec: r.BrokerShutdownRecord, offset: int) -> None:
        b = self._current_broker(rec.node_id, rec.broker_epoch, "BrokerShutdownRecord")
        if b is not None:
            self.brokers[rec.node_id] = b._replace(in_controlled_shutdown=True)

    def _topic(self, rec: r.TopicRecord, offset: int) -> None:
        if rec.name in self.topics_by_name or rec.topic_id in self.topics_by_id:
            raise MetadataApplyError(f"topic {rec.name} ({rec.topic_id}) already exists")
        t = TopicImage(rec.name, rec.topic_id)
        self.topics_by_name[rec.name] = t
        self.topics_by_id[rec.topic_id] = t

    def _topic_by_id(self, topic_id: str) -> TopicImage:
        t = self.topics_by_id.get(topic_id)
        if t is None:
            raise MetadataApplyError(f"unknown topic id {topic_id}")
        return t

    def _partition(self, rec: r.PartitionRecord, offset: int) -> None:
        t = self._topic_by_id(rec.topic_id)
        if rec.partition != len(t.partitions):
            raise MetadataApplyError(
                f"topic {t.name}: partition {rec.partition} is not the next ({len(t.partitions)})"
            )
        state = PartitionState(rec.topic_id, rec.partition, tuple(rec.replicas), tuple(rec.isr),
                               rec.leader, rec.leader_epoch, rec.partition_epoch)
        _check_partition(t.name, state)
        t.partitions.append(state)
        t.changed()
        self.partition_count += 1
        self._index_add(state)

    def _partition_change(self, rec: r.PartitionChangeRecord, offset: int) -> None:
        t = self._topic_by_id(rec.topic_id)
        if not 0 <= rec.partition < len(t.partitions):
            raise MetadataApplyError(f"topic {t.name}: no partition {rec.partition}")
        old = t.partitions[rec.partition]
        leader, leader_epoch = old.leader, old.leader_epoch
        if rec.leader != r.LEADER_NO_CHANGE:
            if rec.leader < r.LEADER_NONE:
                raise MetadataApplyError(f"topic {t.name}: bad leader {rec.leader}")
            leader = None if rec.leader == r.LEADER_NONE else rec.leader
            leader_epoch += 1
        new = PartitionState(
            old.topic_id, old.partition,
            old.replicas if rec.replicas is None else tuple(rec.replicas),
            old.isr if rec.isr is None else tuple(rec.isr),
            leader, leader_epoch, old.partition_epoch + 1,
        )
        _check_partition(t.name, new)
        if new.replicas != old.replicas or new.leader != old.leader:
            self._index_remove(old)
            self._index_add(new)
        t.partitions[rec.partition] = new
        t.changed()

    def _remove_topic(self, rec: r.RemoveTopicRecord, offset: int) -> None:
        t = self._topic_by_id(rec.topic_id)
        for state in t.partitions:
            self._index_remove(state)
        self.partition_count -= len(t.partitions)
        del self.topics_by_id[t.topic_id]
        del self.topics_by_name[t.name]

    def _producer_ids(self, rec: r.ProducerIdsRecord, offset: int) -> None:
        if rec.next_producer_id <= self.next_producer_id:
            raise MetadataApplyError(
                f"producer id block ends at {rec.next_producer_id}, not above {self.next_producer_id}")
        self.next_producer_id = rec.next_producer_id

    def _config(self, rec: r.ConfigRecord, offset: int) -> None:
        t = self.topics_by_name.get(rec.topic)
        if t is None:
            raise MetadataApplyError(f"config for unknown topic {rec.topic}")
        if rec.value is None:
            t.configs.pop(rec.key, None)
        else:
            t.configs[rec.key] = rec.value
        t.changed()

    # --------------------------------------------------------------- indexes
    def _index_add(self, s: PartitionState) -> None:
        key = (s.topic_id, s.partition)
        by_replica = self._by_replica
        for b in s.replicas:
            group = by_replica.get(b)
            if group is None:
                group = by_replica[b] = set()
            group.add(key)
        if s.leader is None:
            self._leaderless.add(key)
        else:
            group = self._by_leader.get(s.leader)
            if group is None:
                group = self._by_leader[s.leader] = set()
            group.add(key)
            if s.leader != s.replicas[0]:
                self._imbalanced.add(key)

    def _index_remove(self, s: PartitionState) -> None:
        key = (s.topic_id, s.partition)
        for b in s.replicas:
            self._by_replica[b].discard(key)
        if s.leader is None:
            self._leaderless.discard(key)
        else:
            self._by_leader[s.leader].discard(key)
            self._imbalanced.discard(key)

    # ------------------------------------------------------- copies & hashes
    def clone(self) -> MetadataImage:
        """An independent copy (O(size)); partition states are shared since
        they are immutable."""
        c = MetadataImage()
        c.offset = self.offset
        c.last_broker_epoch = self.last_broker_epoch
        c.next_producer_id = self.next_producer_id
        c.brokers = dict(self.brokers)
        for t in self.topics_by_id.values():
            nt = TopicImage(t.name, t.topic_id)
            nt.partitions = list(t.partitions)
            nt.configs = dict(t.configs)
            nt.digest_cache, nt.blob_cache = t.digest_cache, t.blob_cache
            c.topics_by_id[t.topic_id] = nt
            c.topics_by_name[t.name] = nt
        c.partition_count = self.partition_count
        c._by_replica = {b: set(s) for b, s in self._by_replica.items()}
        c._by_leader = {b: set(s) for b, s in self._by_leader.items()}
        c._leaderless = set(self._leaderless)
        c._imbalanced = set(self._imbalanced)
        c._digest_cache = self._digest_cache
        return c

    def digest(self) -> str:
        """sha256 (hex) of the image content (not its offset): equal on every
        node that applied the same records. Cached per topic, so after a
        change only the touched topics are re-hashed."""
        if self._digest_cache is None:
            from rafka.broker.metadata.digest import image_digest

            self._digest_cache = image_digest(self)
        return self._digest_cache.hex()

    def to_snapshot(self) -> bytes:
        from rafka.broker.metadata.snapshot import encode_snapshot

        return encode_snapshot(self)

    @classmethod
    def from_snapshot(cls, data: bytes) -> MetadataImage:
        from rafka.broker.metadata.snapshot import decode_snapshot

        return decode_snapshot(data)


def _check_partition(topic: str, s: PartitionState) -> None:
    if not s.replicas or len(set(s.replicas)) != len(s.replicas):
        raise MetadataApplyError(f"{topic}-{s.partition}: bad replicas {s.replicas}")
    if not s.isr or len(set(s.isr)) != len(s.isr) or not set(s.isr) <= set(s.replicas):
        raise MetadataApplyError(f"{topic}-{s.partition}: isr {s.isr} not within {s.replicas}")
    if s.leader is not None and s.leader not in s.isr:
        raise MetadataApplyError(f"{topic}-{s.partition}: leader {s.leader} not in isr {s.isr}")


_HANDLERS = {
    r.RegisterBrokerRecord: MetadataImage._register,
    r.FenceBrokerRecord: MetadataImage._fence,
    r.UnfenceBrokerRecord: MetadataImage._unfence,
    r.BrokerShutdownRecord: MetadataImage._shutdown,
    r.TopicRecord: MetadataImage._topic,
    r.PartitionRecord: MetadataImage._partition,
    r.PartitionChangeRecord: MetadataImage._partition_change,
    r.RemoveTopicRecord: MetadataImage._remove_topic,
    r.ConfigRecord: MetadataImage._config,
    r.ProducerIdsRecord: MetadataImage._producer_ids,
}
