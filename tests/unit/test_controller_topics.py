"""Topic administration: create, delete, add partitions, configs, and
validation errors that change nothing."""

import pytest

from rafka.broker.controller import ControllerConfig
from rafka.broker.controller import requests as rq
from rafka.broker.controller.harness import LocalController
from rafka.netproto.errors import ErrorCode


@pytest.fixture
def c():
    c = LocalController(ControllerConfig(partitions_per_topic_max=100, cluster_partitions_max=150))
    c.add_brokers([1, 2, 3])
    return c


def create(c, *topics, validate_only=False):
    return c.handle(rq.CreateTopicsRequest([rq.CreatableTopic(*t) for t in topics], validate_only))


def test_create_topic_records_partitions_with_full_isr(c):
    """Goal: a created topic has its partitions, rf replicas each, the whole
    replica set in sync, the preferred replica leading at epoch 0."""
    res = c.create_topic("orders", 4, 3, {"retention.ms": "60000"})
    assert res.error_code == 0 and res.topic_id
    t = c.image.topic("orders")
    assert t.topic_id == res.topic_id and t.configs == {"retention.ms": "60000"}
    assert len(t.partitions) == 4
    for s in t.partitions:
        assert len(s.replicas) == 3 and s.isr == s.replicas
        assert s.leader == s.replicas[0] and s.leader_epoch == 0


def test_topic_ids_are_deterministic_given_the_seed():
    """Goal: the injected rng makes topic ids reproducible."""
    ids = []
    for _ in range(2):
        c = LocalController(seed=5)
        c.add_brokers([1])
        ids.append(c.create_topic("a", 1, 1).topic_id)
    assert ids[0] == ids[1] and len(ids[0]) == 22


@pytest.mark.parametrize(
    "topic,code",
    [
        (("", 1, 1), ErrorCode.INVALID_TOPIC_EXCEPTION),
        ((".", 1, 1), ErrorCode.INVALID_TOPIC_EXCEPTION),
        (("..", 1, 1), ErrorCode.INVALID_TOPIC_EXCEPTION),
        (("bad name", 1, 1), ErrorCode.INVALID_TOPIC_EXCEPTION),
        (("x" * 250, 1, 1), ErrorCode.INVALID_TOPIC_EXCEPTION),
        (("ok", 0, 1), ErrorCode.INVALID_PARTITIONS),
        (("ok", 101, 1), ErrorCode.INVALID_PARTITIONS),
        (("ok", 1, 0), ErrorCode.INVALID_REPLICATION_FACTOR),
        (("ok", 1, 4), ErrorCode.INVALID_REPLICATION_FACTOR),
        (("ok", 1, 1, {"no.such.key": "1"}), ErrorCode.INVALID_CONFIG),
        (("ok", 1, 1, {"retention.ms": "soon"}), ErrorCode.INVALID_CONFIG),
        (("ok", 1, 1, {"retention.ms": "-2"}), ErrorCode.INVALID_CONFIG),
        (("ok", 1, 1, {"segment.bytes": "10"}), ErrorCode.INVALID_CONFIG),
        (("ok", 1, 1, {"unclean.leader.election.enable": "maybe"}), ErrorCode.INVALID_CONFIG),
        (("ok", 1, 2, {"min.insync.replicas": "3"}), ErrorCode.INVALID_CONFIG),
        (("ok", 1, 1, {"cleanup.policy": "archive"}), ErrorCode.INVALID_CONFIG),
    ],
)
def test_invalid_create_gets_kafka_error_and_changes_nothing(c, topic, code):
    """Goal: every validation failure answers with Kafka's error code and
    appends no record."""
    entries, digest = len(c.entries), c.image.digest()
    resp = create(c, topic)
    assert resp.results[0].error_code == code
    assert resp.results[0].error_message
    assert len(c.entries) == entries and c.image.digest() == digest


def test_topic_name_rules_accept_the_kafka_alphabet(c):
    """Goal: names of [a-zA-Z0-9._-] up to 249 characters are accepted."""
    assert c.create_topic("A.b_c-9", 1, 1).error_code == 0
    assert c.create_topic("y" * 249, 1, 1).error_code == 0


def test_existing_topic_is_refused(c):
    """Goal: creating an existing name gives TOPIC_ALREADY_EXISTS."""
    c.create_topic("orders", 1, 1)
    assert c.create_topic("orders", 2, 1).error_code == ErrorCode.TOPIC_ALREADY_EXISTS
    assert len(c.image.topic("orders").partitions) == 1


def test_items_of_one_request_are_independent(c):
    """Goal: a bad topic in a request does not stop the good ones; a name
    given twice is refused the second time."""
    resp = create(c, ("good", 2, 1), ("bad!", 1, 1), ("good", 1, 1))
    assert [r.error_code for r in resp.results] == [0, ErrorCode.INVALID_TOPIC_EXCEPTION,
                                                    ErrorCode.INVALID_REQUEST]
    assert len(c.image.topic("good").partitions) == 2


def test_validate_only_appends_nothing(c):
    """Goal: validate_only checks and answers but creates nothing."""
    resp = create(c, ("v", 3, 2), validate_only=True)
    assert resp.results[0].error_code == 0
    assert c.image.topic("v") is None


def test_cluster_partition_limit(c):
    """Goal: the cluster-wide partition limit is enforced across topics."""
    assert c.create_topic("a", 100, 1).error_code == 0
    assert c.create_topic("b", 51, 1).error_code == ErrorCode.INVALID_PARTITIONS
    assert c.create_topic("b", 50, 1).error_code == 0


def test_delete_topic(c):
    """Goal: delete removes the topic; deleting an unknown one is
    UNKNOWN_TOPIC_OR_PARTITION with no record."""
    c.create_topic("orders", 3, 2)
    resp = c.handle(rq.DeleteTopicsRequest(["orders", "ghost"]))
    assert [r.error_code for r in resp.results] == [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
    assert c.image.topic("orders") is None and c.image.partition_count == 0
    entries = len(c.entries)
    c.handle(rq.DeleteTopicsRequest(["orders"]))
    assert len(c.entries) == entries


def test_create_partitions_only_grows(c):
    """Goal: adding partitions keeps the topic's rf and existing partitions;
    shrinking, keeping the count or an unknown topic is refused."""
    c.create_topic("orders", 2, 2)
    before = list(c.image.topic("orders").partitions)
    resp = c.handle(rq.CreatePartitionsRequest([rq.PartitionCountUpdate("orders", 5)]))
    assert resp.results[0].error_code == 0
    t = c.image.topic("orders")
    assert t.partitions[:2] == before and len(t.partitions) == 5
    assert all(len(s.replicas) == 2 and s.leader == s.replicas[0] for s in t.partitions)
    for count, code in ((5, ErrorCode.INVALID_PARTITIONS), (3, ErrorCode.INVALID_PARTITIONS),
                        (101, ErrorCode.INVALID_PARTITIONS)):
        resp = c.handle(rq.CreatePartitionsRequest([rq.PartitionCountUpdate("orders", count)]))
        assert resp.results[0].error_code == code
    resp = c.handle(rq.CreatePartitionsRequest([rq.PartitionCountUpdate("ghost", 3)]))
    assert resp.results[0].error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert len(c.image.topic("orders").partitions) == 5


def test_alter_configs_sets_canonical_values_and_deletes(c):
    """Goal: AlterConfigs is incremental: values are canonicalised, None
    deletes an override, bad values change nothing."""
    c.create_topic("orders", 1, 2, {"retention.ms": "100"})
    alter = lambda cfg: c.handle(rq.AlterConfigsRequest([rq.AlterableTopicConfigs("orders", cfg)]))
    assert alter({"unclean.leader.election.enable": "TRUE", "retention.ms": None}).results[0].error_code == 0
    assert c.image.topic("orders").configs == {"unclean.leader.election.enable": "true"}
    digest = c.image.digest()
    assert alter({"min.insync.replicas": "3"}).results[0].error_code == ErrorCode.INVALID_CONFIG
    assert alter({"bogus": "1"}).results[0].error_code == ErrorCode.INVALID_CONFIG
    assert c.image.digest() == digest
    resp = c.handle(rq.AlterConfigsRequest([rq.AlterableTopicConfigs("ghost", {})]))
    assert resp.results[0].error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_describe_and_list(c):
    """Goal: DescribeTopic/ListTopics reflect the image; an unknown topic
    raises UNKNOWN_TOPIC_OR_PARTITION."""
    c.create_topic("b", 2, 2)
    c.create_topic("a", 1, 1)
    assert c.handle(rq.ListTopicsRequest()).names == ["a", "b"]
    d = c.handle(rq.DescribeTopicRequest("b"))
    assert [p.partition for p in d.partitions] == [0, 1]
    assert d.partitions[0].isr == d.partitions[0].replicas
    from rafka.netproto.errors import RafkaError

    with pytest.raises(RafkaError) as e:
        c.handle(rq.DescribeTopicRequest("zzz"))
    assert e.value.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_inactive_controller_refuses_writes_but_serves_reads(c):
    """Goal: a controller that lost leadership decides nothing
    (NOT_CONTROLLER) yet still answers read-only requests."""
    from rafka.netproto.errors import RafkaError

    c.controller.deactivate()
    with pytest.raises(RafkaError) as e:
        create(c, ("x", 1, 1))
    assert e.value.code == ErrorCode.NOT_CONTROLLER
    assert c.handle(rq.ListTopicsRequest()).names == []
    assert c.controller.tick(c.image, 10**9) == []


def test_request_size_limit(c):
    """Goal: more topics in one request than topics_per_request_max is refused."""
    from rafka.netproto.errors import RafkaError

    c2 = LocalController(ControllerConfig(topics_per_request_max=2))
    c2.add_brokers([1])
    with pytest.raises(RafkaError) as e:
        create(c2, ("a", 1, 1), ("b", 1, 1), ("c", 1, 1))
    assert e.value.code == ErrorCode.INVALID_REQUEST


def test_names_differing_only_in_dot_and_underscore_collide(c):
    """Goal: like Kafka, 'a_b' is rejected once 'a.b' exists (and the other
    way round, and within one request), since '.' and '_' collide in metric
    names; the rejected item adds no records, an unrelated one still passes."""
    assert c.create_topic("a.b", 1, 1).error_code == 0
    before = len(c.entries)
    res = c.create_topic("a_b", 1, 1)
    assert res.error_code == ErrorCode.INVALID_TOPIC_EXCEPTION
    assert "collides with existing topic 'a.b'" in res.error_message
    assert len(c.entries) == before and c.image.topic("a_b") is None
    resp = create(c, ("x_y", 1, 1), ("x.y", 1, 1), ("z", 1, 1))
    codes = [r.error_code for r in resp.results]
    assert codes == [0, ErrorCode.INVALID_TOPIC_EXCEPTION, 0]
    assert c.image.topic("x.y") is None and c.image.topic("x_y") is not None
    assert c.create_topic("a.b", 1, 1).error_code == ErrorCode.TOPIC_ALREADY_EXISTS


def test_manual_replica_assignments(c):
    """Goal: a topic created with replica assignments gets exactly those
    replica lists (first replica leading); bad lists are refused with
    Kafka's errors and create nothing."""
    ok = rq.CreatableTopic("manual", -1, -1, assignments=[[3, 1], [2, 3]])
    resp = c.handle(rq.CreateTopicsRequest([ok]))
    assert resp.results[0].error_code == 0
    t = c.image.topic("manual")
    assert [(s.replicas, s.leader) for s in t.partitions] == [((3, 1), 3), ((2, 3), 2)]
    bad = [
        (rq.CreatableTopic("b1", 2, -1, assignments=[[1]]), ErrorCode.INVALID_REQUEST),
        (rq.CreatableTopic("b2", -1, -1, assignments=[[1, 2], [3]]), ErrorCode.INVALID_REPLICA_ASSIGNMENT),
        (rq.CreatableTopic("b3", -1, -1, assignments=[[1, 1]]), ErrorCode.INVALID_REPLICA_ASSIGNMENT),
        (rq.CreatableTopic("b4", -1, -1, assignments=[[1, 9]]), ErrorCode.INVALID_REPLICA_ASSIGNMENT),
    ]
    resp = c.handle(rq.CreateTopicsRequest([t for t, _ in bad]))
    assert [r.error_code for r in resp.results] == [code for _, code in bad]
    assert all(c.image.topic(f"b{i}") is None for i in range(1, 5))
