"""Goal: a Metadata answer reused from the listener's answer cache is
always exactly what a fresh one would say: a created or deleted topic, a
moved leader, a fenced broker or a new active controller gives a new
answer; consistent reads and answers with topic errors are never reused;
the cache stays within its bounds."""

from __future__ import annotations

from kio.schema.metadata.v12.request import MetadataRequest as M12
from kio.schema.metadata.v12.request import MetadataRequestTopic
from kio.schema.metadata.v12.response import MetadataResponse as R12

from rafka.broker.kafka import dispatch
from rafka.broker.kafka.answer_cache import ANSWERS_CACHED_MAX, AnswerCache, CachedAnswer, HitTally
from rafka.broker.metadata import records as r
from tests.unit.kafka_support.fake_broker import TOPIC_ID, FakeBroker, parse_response, request_frame

ALL_TOPICS = M12(topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)
NEW_TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAg"


def frame_of(body, correlation_id: int = 7, client_id: str = "t") -> bytes:
    return request_frame(3, 12, body, correlation_id=correlation_id, client_id=client_id)[4:]


def decode(response_frame: bytes) -> tuple[int, R12]:
    return parse_response(3, 12, response_frame[4:], 1)


async def answer(broker, cache, body=ALL_TOPICS, correlation_id: int = 7, client_id: str = "t"):
    """(answered from the cache?, correlation id, response) — what a
    connection does: respond_now first, else respond."""
    frame = frame_of(body, correlation_id, client_id)
    now = dispatch.respond_now(frame, broker, cache, HitTally())
    if now is not None:
        return True, *decode(now)
    _, resp = await dispatch.respond(frame, broker, cache=cache)
    return False, *decode(resp)


def leaders(resp: R12) -> dict[tuple[str, int], int]:
    return {(t.name, p.partition_index): p.leader_id for t in resp.topics for p in t.partitions}


async def test_a_repeated_request_is_answered_from_the_cache_with_its_own_correlation_id():
    broker, cache = FakeBroker(), AnswerCache(1 << 20)
    cached, corr, first = await answer(broker, cache, correlation_id=1)
    assert not cached and corr == 1
    cached, corr, again = await answer(broker, cache, correlation_id=2)
    assert cached and corr == 2 and again == first


async def test_a_created_topic_changes_the_cached_answer():
    broker, cache = FakeBroker(), AnswerCache(1 << 20)
    await answer(broker, cache)
    assert (await answer(broker, cache))[0]
    image = broker.image
    image.apply_batch([r.TopicRecord("payments", NEW_TOPIC_ID),
                       r.PartitionRecord(NEW_TOPIC_ID, 0, (2, 1), (2, 1), 2, 0, 0)], image.offset + 1)
    cached, _, resp = await answer(broker, cache)
    assert not cached
    assert [t.name for t in resp.topics] == ["orders", "payments"]
    assert leaders(resp)[("payments", 0)] == 2
    assert (await answer(broker, cache))[0]  # the new answer is cached in turn


async def test_a_moved_leader_changes_the_cached_answer():
    broker, cache = FakeBroker(), AnswerCache(1 << 20)
    _, _, before = await answer(broker, cache)
    assert (await answer(broker, cache))[0]
    assert leaders(before)[("orders", 0)] == 1
    broker.image.apply(r.PartitionChangeRecord(TOPIC_ID, 0, leader=2), broker.image.offset + 1)
    cached, _, after = await answer(broker, cache)
    assert not cached and leaders(after)[("orders", 0)] == 2
    epoch = {p.partition_index: p.leader_epoch for p in after.topics[0].partitions}[0]
    assert epoch == {p.partition_index: p.leader_epoch for p in before.topics[0].partitions}[0] + 1


async def test_a_fenced_broker_and_a_deleted_topic_change_the_cached_answer():
    broker, cache = FakeBroker(), AnswerCache(1 << 20)
    _, _, before = await answer(broker, cache)
    assert sorted(b.node_id for b in before.brokers) == [1, 2]
    broker.image.apply(r.FenceBrokerRecord(2, 2), broker.image.offset + 1)
    cached, _, fenced = await answer(broker, cache)
    assert not cached and [b.node_id for b in fenced.brokers] == [1]
    assert 2 in fenced.topics[0].partitions[0].offline_replicas
    broker.image.apply(r.RemoveTopicRecord(TOPIC_ID), broker.image.offset + 1)
    cached, _, gone = await answer(broker, cache)
    assert not cached and gone.topics == ()


async def test_a_new_active_controller_changes_the_cached_answer():
    broker, cache = FakeBroker(leader=2), AnswerCache(1 << 20)
    assert (await answer(broker, cache))[2].controller_id == 2
    broker.leader = 1
    cached, _, resp = await answer(broker, cache)
    assert not cached and resp.controller_id == 1


async def test_consistent_reads_and_answers_with_topic_errors_are_never_reused():
    broker, cache = FakeBroker(), AnswerCache(1 << 20)
    for _ in range(2):
        assert not (await answer(broker, cache, client_id="rafka-cli+consistent"))[0]
    missing = M12(topics=(MetadataRequestTopic(topic_id=None, name="nope"),), allow_auto_topic_creation=False,
                  include_topic_authorized_operations=False)
    for _ in range(2):
        cached, _, resp = await answer(broker, cache, missing)
        assert not cached and resp.topics[0].error_code != 0
    assert len(cache) == 0


async def test_an_answer_made_while_the_image_moved_is_not_kept():
    """The image changes while the handler awaits (auto-creation): the
    answer belongs to no single stamp, so it is not cached."""
    broker, cache = FakeBroker(), AnswerCache(1 << 20)
    real_route = broker.route_to_controller

    async def create_and_apply(msg, timeout_s=None):
        resp = await real_route(msg, timeout_s)
        image = broker.image
        image.apply_batch([r.TopicRecord("auto", NEW_TOPIC_ID),
                           r.PartitionRecord(NEW_TOPIC_ID, 0, (1,), (1,), 1, 0, 0)], image.offset + 1)
        return resp

    broker.route_to_controller = create_and_apply
    body = M12(topics=(MetadataRequestTopic(topic_id=None, name="auto"),), allow_auto_topic_creation=True,
               include_topic_authorized_operations=False)
    cached, _, resp = await answer(broker, cache, body)
    assert not cached and resp.topics[0].name == "auto" and len(cache) == 0
    cached, _, resp = await answer(broker, cache, body)  # now the image holds it: cached from here on
    assert not cached and len(cache) == 1
    assert (await answer(broker, cache, body))[0]


class View:
    def __init__(self, stamp) -> None:
        self.stamp = stamp


def cached(body: bytes) -> CachedAnswer:
    return CachedAnswer(body, 1, "metadata", {}, lambda view: view.stamp)


def test_the_cache_keeps_one_stamp_and_stays_within_its_bounds():
    cache, view = AnswerCache(bytes_max=100), View("s1")
    cache.put("s1", b"a", cached(b"x" * 40))
    cache.put("s1", b"b", cached(b"y" * 40))
    assert cache.get(b"a", view).body == b"x" * 40
    cache.put("s1", b"c", cached(b"z" * 40))  # over 100 bytes: the oldest goes
    assert cache.get(b"a", view) is None and cache.bytes <= 100
    assert cache.get(b"c", view) is not None
    cache.put("s1", b"big", cached(b"w" * 200))  # bigger than the whole cache: not kept
    assert cache.get(b"big", view) is None
    view.stamp = "s2"  # the view moved: every answer goes
    assert cache.get(b"c", view) is None and len(cache) == 0 and cache.bytes == 0
    many = AnswerCache(bytes_max=1 << 30)
    for i in range(ANSWERS_CACHED_MAX + 10):
        many.put("s", str(i).encode(), cached(b""))
    assert len(many) == ANSWERS_CACHED_MAX


def test_hits_reach_metrics_once_per_report_with_their_count():
    calls = []

    class Many:
        def observe_requests(self, api, count, seconds, response):
            calls.append((api, count, seconds, response))

    class One:
        def observe_request(self, api, seconds, response):
            calls.append((api, seconds, response))

    a, b = cached(b"a"), CachedAnswer(b"b", 1, "metadata", {"errors": [{"error_code": 5}]}, lambda v: 0)
    tally = HitTally()
    for answer in (a, b, a):
        tally.add(answer)
    tally.report(Many(), 0.003)
    assert calls == [("metadata", 2, 0.001, {}), ("metadata", 1, 0.001, b.summary)]
    calls.clear()
    tally.report(Many(), 1.0)  # nothing new
    assert calls == []
    tally.add(a)
    tally.add(a)
    tally.report(One(), 0.002)
    assert calls == [("metadata", 0.001, {})] * 2
