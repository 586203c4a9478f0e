"""Goal: a Produce to a topic the image does not know creates it when the
node's auto_create_topics is on (one CreateTopics per topic per request, node
defaults) and answers every partition of it LEADER_NOT_AVAILABLE so the
client retries; with it off, UNKNOWN_TOPIC_OR_PARTITION and nothing is
asked of the controller."""

from __future__ import annotations

import datetime

from kio.schema.errors import ErrorCode
from kio.schema.produce.v9.request import PartitionProduceData, ProduceRequest, TopicProduceData

from rafka.broker.controller import requests as rq
from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.log.records import Record, build_batch
from tests.unit.kafka_support.fake_broker import FakeBroker
from tests.unit.test_kafka_dispatch import call


def produce(*topics: tuple[str, int], acks: int = -1, transactional_id: str | None = None) -> ProduceRequest:
    data = build_batch([Record(b"k", b"v")], timestamp_ms=1000)
    return ProduceRequest(transactional_id=transactional_id, acks=acks, timeout=datetime.timedelta(seconds=5),
                          topic_data=tuple(TopicProduceData(name=name, partition_data=tuple(
                              PartitionProduceData(index=i, records=data) for i in range(n)))
                              for name, n in topics))


def codes(out) -> list[tuple[str, int, int]]:
    return [(t.name, p.index, p.error_code) for t in out.responses for p in t.partition_responses]


async def test_produce_auto_creates_an_unknown_topic_once_and_asks_for_a_retry():
    b = FakeBroker(config=KafkaListenerConfig(default_partitions=3, default_replication_factor=2))
    out = await call(b, 0, 9, produce(("fresh", 2)))
    assert codes(out) == [("fresh", 0, ErrorCode.leader_not_available), ("fresh", 1, ErrorCode.leader_not_available)]
    (req,) = b.routed
    assert isinstance(req, rq.CreateTopicsRequest)
    assert (req.topics[0].name, req.topics[0].num_partitions, req.topics[0].replication_factor) == ("fresh", 3, 2)


async def test_produce_to_an_unknown_topic_without_auto_create_is_refused():
    b = FakeBroker(config=KafkaListenerConfig(auto_create_topics=False))
    out = await call(b, 0, 9, produce(("fresh", 1)))
    assert codes(out) == [("fresh", 0, ErrorCode.unknown_topic_or_partition)]
    assert b.routed == []


async def test_invalid_name_and_transactions_create_nothing():
    b = FakeBroker()
    out = await call(b, 0, 9, produce(("bad name!", 1)))
    assert codes(out) == [("bad name!", 0, ErrorCode.invalid_topic_exception)]
    out = await call(b, 0, 9, produce(("fresh", 1), transactional_id="tx"))
    assert codes(out) == [("fresh", 0, ErrorCode.transactional_id_authorization_failed)]
    assert b.routed == []


async def test_known_topic_is_not_created_again():
    b = FakeBroker()
    out = await call(b, 0, 9, produce(("orders", 1)))
    assert codes(out) == [("orders", 0, ErrorCode.not_leader_or_follower)]  # the fake hosts no replicas
    assert b.routed == []
