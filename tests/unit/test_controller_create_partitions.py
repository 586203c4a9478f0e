"""CreatePartitions with manual replica assignments (Kafka's rules): one
list per new partition, the topic's replication factor, distinct registered
brokers, at least one eligible; bad ones give INVALID_REPLICA_ASSIGNMENT and
change nothing; validate_only changes nothing. Also the Kafka handler's
translation of API 37's assignments into the controller's request."""

import pytest

from rafka.broker.controller import ControllerConfig
from rafka.broker.controller import requests as rq
from rafka.broker.controller.harness import LocalController
from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.netproto.errors import ErrorCode
from tests.unit.test_kafka_admin_apis import AdminBroker, call


@pytest.fixture
def c():
    c = LocalController(ControllerConfig(partitions_per_topic_max=100))
    c.add_brokers([1, 2, 3, 4])
    c.create_topic("orders", 2, 2)
    return c


def grow(c, count, assignments, validate_only=False):
    req = rq.CreatePartitionsRequest([rq.PartitionCountUpdate("orders", count, assignments)], validate_only)
    return c.handle(req).results[0]


def test_new_partitions_land_on_the_asked_brokers(c):
    """Goal: each new partition gets exactly the asked replica list, the
    first replica leads, the whole list is in sync; old partitions stay."""
    before = list(c.image.topic("orders").partitions)
    r = grow(c, 4, [[4, 3], [2, 4]])
    assert r.error_code == 0, r.error_message
    t = c.image.topic("orders")
    assert t.partitions[:2] == before
    assert [(s.replicas, s.isr, s.leader) for s in t.partitions[2:]] == [
        ((4, 3), (4, 3), 4), ((2, 4), (2, 4), 2)]


@pytest.mark.parametrize("count, assignments, says", [
    (4, [[4, 3]], "needs 2 replica assignment(s), got 1"),
    (3, [[4, 3], [1, 2]], "needs 1 replica assignment(s), got 2"),
    (3, [[4]], "1 replica(s) given, the topic's replication factor is 2"),
    (3, [[4, 3, 2]], "3 replica(s) given"),
    (3, [[3, 3]], "a broker is named twice"),
    (3, [[3, 9]], "no registered broker [9]"),
    (3, [[]], "0 replica(s) given"),
])
def test_bad_assignments_are_refused_and_change_nothing(c, count, assignments, says):
    entries = len(c.entries)
    r = grow(c, count, assignments)
    assert r.error_code == ErrorCode.INVALID_REPLICA_ASSIGNMENT
    assert says in r.error_message
    assert len(c.entries) == entries and len(c.image.topic("orders").partitions) == 2


def test_validate_only_checks_and_changes_nothing(c):
    entries = len(c.entries)
    assert grow(c, 3, [[4, 1]], validate_only=True).error_code == 0
    assert grow(c, 3, [[4, 4]], validate_only=True).error_code == ErrorCode.INVALID_REPLICA_ASSIGNMENT
    assert len(c.entries) == entries and len(c.image.topic("orders").partitions) == 2


def test_fenced_replicas_stay_out_of_the_isr_and_all_fenced_is_refused(c):
    """Goal: a fenced broker may be assigned (Kafka allows registered
    brokers) but is not in the new partition's ISR and does not lead; a
    list of only fenced brokers is refused."""
    c.now_ms = 60_000
    for n in (1, 2):
        c.heartbeat(n)
    c.tick()  # brokers 3 and 4 time out
    assert c.image.brokers[3].fenced and c.image.brokers[4].fenced
    r = grow(c, 3, [[4, 3]])
    assert r.error_code == ErrorCode.INVALID_REPLICA_ASSIGNMENT and "fenced" in r.error_message
    r = grow(c, 3, [[4, 1]])
    assert r.error_code == 0
    s = c.image.topic("orders").partitions[2]
    assert (s.replicas, s.isr, s.leader) == ((4, 1), (1,), 1)


def test_items_are_decided_independently(c):
    c.create_topic("audit", 1, 1)
    resp = c.handle(rq.CreatePartitionsRequest([
        rq.PartitionCountUpdate("orders", 3, [[1, 1]]),
        rq.PartitionCountUpdate("audit", 3, [[2], [3]]),
    ]))
    assert [r.error_code for r in resp.results] == [ErrorCode.INVALID_REPLICA_ASSIGNMENT, 0]
    assert [s.replicas for s in c.image.topic("audit").partitions[1:]] == [(2,), (3,)]
    assert len(c.image.topic("orders").partitions) == 2


async def test_kafka_handler_passes_assignments_to_the_controller():
    """Goal: API 37's assignments reach the controller as broker id lists,
    topics without them get controller placement, validate_only kept, and
    the controller's per-topic errors come back per topic."""
    b = AdminBroker(config=KafkaListenerConfig())
    out = await call(b, 37, 3, {"topics": [
        {"name": "m", "count": 4, "assignments": [{"broker_ids": [3, 1]}, {"broker_ids": [2, 3]}]},
        {"name": "a", "count": 5, "assignments": None},
    ], "timeout": 1000, "validate_only": True})
    (req,) = b.routed
    assert req.validate_only
    assert [(u.name, u.count, u.assignments) for u in req.topics] == [
        ("m", 4, [[3, 1], [2, 3]]), ("a", 5, None)]
    assert [(r.name, r.error_code) for r in out.results] == [("m", 0), ("a", 0)]
