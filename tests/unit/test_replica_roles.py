"""Role diff: leader/follower/stopped/deleted from metadata changes."""

from rafka.broker.metadata import records as r
from rafka.broker.metadata.image import MetadataImage
from rafka.broker.replica.roles import apply_changes, diff_roles, role_changes, roles_of, touched_topic_ids


def image():
    img = MetadataImage()
    img.apply_batch([r.RegisterBrokerRecord(n, f"i{n}", n, "h", 1, None, False) for n in (1, 2, 3)], 1)
    img.apply_batch([r.TopicRecord("a", "TA"), r.PartitionRecord("TA", 0, (1, 2), (1, 2), 1),
                     r.PartitionRecord("TA", 1, (2, 3), (2, 3), 2), r.PartitionRecord("TA", 2, (3, 1), (3, 1), 3)], 2)
    return img


def test_initial_roles():
    """Goal: a fresh broker leads and follows exactly what the image says, with epochs."""
    ch = role_changes(None, image(), 1)
    assert [(x.topic, x.partition, x.leader_epoch) for x in ch.become_leader] == [("a", 0, 0)]
    assert [(x.partition, x.leader) for x in ch.become_follower] == [(2, 3)]
    assert not ch.stopped and not ch.deleted_topics


def test_election_isr_change_reassign_and_delete():
    """Goal: each kind of change lands in the right list."""
    img = image()
    current = roles_of(img, 1)
    recs = [r.PartitionChangeRecord("TA", 0, isr=(1,)),          # same epoch: updated
            r.PartitionChangeRecord("TA", 2, leader=1),          # we become leader of 2
            ]
    img.apply_batch(recs, 3)
    ch = diff_roles(current, img, 1, touched_topic_ids(img, recs))
    assert [x.partition for x in ch.updated] == [0]
    assert [(x.partition, x.leader_epoch) for x in ch.become_leader] == [(2, 1)]
    apply_changes(current, ch)
    recs = [r.PartitionChangeRecord("TA", 2, leader=3)]
    img.apply_batch(recs, 4)
    ch = diff_roles(current, img, 1, touched_topic_ids(img, recs))
    assert [(x.partition, x.leader, x.leader_epoch) for x in ch.become_follower] == [(2, 3, 2)]
    apply_changes(current, ch)
    recs = [r.PartitionChangeRecord("TA", 0, leader=2, replicas=(2, 3), isr=(2, 3))]
    img.apply_batch(recs, 5)
    ch = diff_roles(current, img, 1, touched_topic_ids(img, recs))
    assert [x.partition for x in ch.stopped] == [0]
    apply_changes(current, ch)
    recs = [r.RemoveTopicRecord("TA")]
    img.apply_batch(recs, 6)
    ch = diff_roles(current, img, 1, touched_topic_ids(img, recs))
    assert ch.deleted_topics == [("TA", "a")]
    assert [x.partition for x in ch.stopped] == [2]
    apply_changes(current, ch)
    assert current == {}


def test_reelection_of_same_leader_is_a_new_leadership():
    """Goal: a new leader epoch with the same leader is reported as become_leader."""
    img = image()
    current = roles_of(img, 1)
    img.apply_batch([r.PartitionChangeRecord("TA", 0, leader=1)], 3)
    ch = diff_roles(current, img, 1)
    assert [(x.partition, x.leader_epoch) for x in ch.become_leader] == [(0, 1)]


def test_untouched_topics_are_not_looked_at():
    """Goal: with topic_ids given, only those topics are diffed."""
    img = image()
    ch = diff_roles({}, img, 1, topic_ids=[])
    assert not ch
    assert touched_topic_ids(img, [r.ConfigRecord("a", "retention.ms", "1")]) == {"TA"}
