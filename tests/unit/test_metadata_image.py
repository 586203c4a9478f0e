"""MetadataImage: apply order, invariants, indexes, snapshots and digests."""

from dataclasses import dataclass

import msgpack
import pytest

from rafka.broker.metadata import (
    MetadataApplyError,
    MetadataImage,
    MetadataStateMachine,
    SnapshotError,
    encode_records,
)
from rafka.broker.metadata import records as r


def build(records_by_offset):
    image = MetadataImage()
    for offset, recs in enumerate(records_by_offset, start=1):
        image.apply_batch(recs, offset)
    return image


def base_log():
    """Three brokers, one 2-partition topic with rf 2, a config."""
    return [
        [r.RegisterBrokerRecord(n, f"i{n}", n, "h", 9000 + n, None, False) for n in (1, 2, 3)],
        [
            r.TopicRecord("orders", "T1"),
            r.ConfigRecord("orders", "retention.ms", "1000"),
            r.PartitionRecord("T1", 0, (1, 2), (1, 2), 1),
            r.PartitionRecord("T1", 1, (2, 3), (2, 3), 2),
        ],
    ]


def test_apply_builds_topics_partitions_and_brokers():
    """Goal: committed records produce the expected image, at the last offset."""
    image = build(base_log())
    assert image.offset == 2
    t = image.topic("orders")
    assert t.topic_id == "T1" and t.configs == {"retention.ms": "1000"}
    assert [s.leader for s in t.partitions] == [1, 2]
    assert image.partition_count == 2
    assert image.last_broker_epoch == 3
    assert [b.node_id for b in image.eligible_brokers()] == [1, 2, 3]


def test_partition_change_bumps_epochs_and_moves_indexes():
    """Goal: a leader change bumps leader_epoch and partition_epoch and moves
    the partition between leader indexes; an ISR-only change bumps only
    partition_epoch."""
    image = build(base_log())
    image.apply(r.PartitionChangeRecord("T1", 0, isr=(1,)), 3)
    s = image.partition("T1", 0)
    assert (s.leader, s.leader_epoch, s.partition_epoch, s.isr) == (1, 0, 1, (1,))
    image.apply(r.PartitionChangeRecord("T1", 1, leader=3, isr=(3,)), 4)
    s = image.partition("T1", 1)
    assert (s.leader, s.leader_epoch, s.partition_epoch) == (3, 1, 1)
    assert image.partitions_led_by(3) == {("T1", 1)}
    assert image.partitions_led_by(2) == frozenset()
    assert image.imbalanced() == {("T1", 1)}
    image.apply(r.PartitionChangeRecord("T1", 1, leader=r.LEADER_NONE), 5)
    assert image.partition("T1", 1).leader is None
    assert image.leaderless() == {("T1", 1)}
    assert image.imbalanced() == frozenset()


def test_remove_topic_clears_partitions_configs_and_indexes():
    """Goal: RemoveTopicRecord drops the topic and every index entry, and a
    topic of the same name can be created again without old configs."""
    image = build(base_log())
    image.apply(r.RemoveTopicRecord("T1"), 3)
    assert image.topic("orders") is None and image.partition_count == 0
    assert image.partitions_of_replica(2) == frozenset()
    image.apply(r.TopicRecord("orders", "T2"), 4)
    assert image.topic("orders").configs == {}


@pytest.mark.parametrize(
    "bad",
    [
        r.PartitionRecord("T1", 5, (1,), (1,), 1),  # not the next partition
        r.PartitionRecord("nope", 2, (1,), (1,), 1),  # unknown topic
        r.PartitionRecord("T1", 2, (1, 1), (1,), 1),  # duplicate replicas
        r.PartitionRecord("T1", 2, (1, 2), (3,), 3),  # isr outside replicas
        r.PartitionRecord("T1", 2, (1, 2), (1,), 2),  # leader outside isr
        r.PartitionChangeRecord("T1", 0, isr=()),  # empty isr
        r.PartitionChangeRecord("T1", 0, leader=3),  # leader not in isr
        r.PartitionChangeRecord("T1", 9, leader=1),  # no such partition
        r.TopicRecord("orders", "T9"),  # duplicate name
        r.ConfigRecord("nope", "retention.ms", "1"),
        r.FenceBrokerRecord(42, 1),  # unregistered broker
        r.RegisterBrokerRecord(1, "again", 1, "h", 1, None),  # epoch not above
    ],
)
def test_records_breaking_invariants_raise(bad):
    """Goal: a record that does not fit the image raises MetadataApplyError
    (loudly, the same on every node) instead of corrupting it."""
    image = build(base_log())
    with pytest.raises(MetadataApplyError):
        image.apply(bad, 3)


def test_offset_never_goes_backwards():
    """Goal: applying at an offset behind the image is refused."""
    image = build(base_log())
    with pytest.raises(MetadataApplyError):
        image.apply(r.FenceBrokerRecord(1, 1), 1)
    with pytest.raises(MetadataApplyError):
        image.advance(0)


def test_stale_fence_for_replaced_incarnation_is_ignored():
    """Goal: a fence decided for an old incarnation does not fence the new one."""
    image = build(base_log())
    image.apply(r.RegisterBrokerRecord(1, "new", 10, "h", 1, None, False), 3)
    image.apply(r.FenceBrokerRecord(1, 1), 4)
    assert image.brokers[1].fenced is False
    image.apply(r.FenceBrokerRecord(1, 10), 5)
    assert image.brokers[1].fenced is True


def test_snapshot_round_trip_keeps_content_offset_and_indexes():
    """Goal: from_snapshot(to_snapshot(x)) has the same digest, offset,
    partitions and indexes."""
    image = build(base_log())
    image.apply(r.PartitionChangeRecord("T1", 1, leader=3, isr=(3,)), 3)
    image.apply(r.BrokerShutdownRecord(2, 2), 4)
    loaded = MetadataImage.from_snapshot(image.to_snapshot())
    assert loaded.digest() == image.digest()
    assert loaded.offset == 4
    assert loaded.brokers == image.brokers
    assert loaded.topic("orders").configs == {"retention.ms": "1000"}
    assert loaded.partition("T1", 1) == image.partition("T1", 1)
    assert loaded.partitions_led_by(3) == image.partitions_led_by(3)
    assert loaded.imbalanced() == image.imbalanced()
    assert loaded.partitions_of_replica(2) == image.partitions_of_replica(2)


@pytest.mark.parametrize(
    "data",
    [b"\xc1", msgpack.packb({"format": 99}), msgpack.packb([1, 2]),
     msgpack.packb({"format": 2, "offset": 1, "last_broker_epoch": 0, "brokers": [[1]], "topics": []}),
     msgpack.packb({"format": 2, "offset": 1, "last_broker_epoch": 0, "brokers": [], "topics": [b"\xc1"]}),
     msgpack.packb({"format": 2, "offset": 1, "last_broker_epoch": 0, "brokers": [],
                    "topics": [msgpack.packb(["t", "id", [], [[1, [1], [1], 1, 0, 0]]])]})],
)
def test_bad_snapshot_raises_snapshot_error(data):
    """Goal: a malformed snapshot is refused with SnapshotError."""
    with pytest.raises(SnapshotError):
        MetadataImage.from_snapshot(data)


def test_digest_equal_for_same_log_and_different_after_a_change():
    """Goal: nodes applying the same log agree on the digest; any change
    (even an ISR-only one) changes it; the digest ignores the offset."""
    a, b = build(base_log()), build(base_log())
    assert a.digest() == b.digest()
    b.advance(10)
    assert a.digest() == b.digest()
    b.apply(r.PartitionChangeRecord("T1", 0, isr=(1,)), 11)
    assert a.digest() != b.digest()
    a.apply(r.PartitionChangeRecord("T1", 0, isr=(1,)), 3)
    assert a.digest() == b.digest()
    a.apply(r.ConfigRecord("orders", "retention.ms", None), 4)
    assert a.digest() != b.digest()


def test_digest_is_independent_of_topic_creation_order():
    """Goal: the digest is canonical (sorted), not dict-order dependent."""
    topics = [[r.TopicRecord(name, f"id-{name}"), r.PartitionRecord(f"id-{name}", 0, (1,), (1,), 1)]
              for name in ("a", "b", "c")]
    x = build(topics)
    y = build(list(reversed(topics)))
    assert x.digest() == y.digest()


def test_clone_is_independent():
    """Goal: changes to a clone do not leak into the original (speculative
    controller images rely on it)."""
    image = build(base_log())
    digest = image.digest()
    c = image.clone()
    c.apply(r.PartitionChangeRecord("T1", 0, leader=2), 3)
    c.apply(r.ConfigRecord("orders", "retention.ms", "5"), 3)
    assert image.digest() == digest and image.partition("T1", 0).leader == 1
    assert image.partitions_led_by(2) == {("T1", 1)}
    assert c.digest() != digest


@dataclass
class FakeEntry:
    index: int
    kind: int
    data: bytes


def test_state_machine_applies_entries_and_restores_snapshots():
    """Goal: the Raft-facing adapter applies NORMAL entries as record batches,
    lets NOOP/CONFIG entries only advance the offset, and restores from its
    own snapshot to the same digest."""
    sm = MetadataStateMachine()
    seen = []
    sm.listeners.append(lambda offset, recs: seen.append((offset, len(recs))))
    for i, recs in enumerate(base_log(), start=1):
        sm.apply(FakeEntry(i, 0, encode_records(recs)))
    sm.apply(FakeEntry(3, 2, b""))
    sm.apply(FakeEntry(4, 1, b"raft config bytes, not records"))
    assert sm.image.offset == 4 and seen == [(1, 3), (2, 4), (3, 0), (4, 0)]
    other = MetadataStateMachine()
    other.restore(sm.snapshot())
    assert other.image.digest() == sm.image.digest()
    assert other.summary()["partitions"] == "2"
