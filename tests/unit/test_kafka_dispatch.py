"""Goal: one request frame in, one response frame out — ApiVersions and
Metadata answered per version from the image, unsupported versions answered
with UNSUPPORTED_VERSION (ApiVersions: a v0 body with our ranges), and
anything that cannot be a request raising (the connection then closes)."""

from __future__ import annotations

import uuid

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v0.request import MetadataRequest as M0
from kio.schema.metadata.v0.request import MetadataRequestTopic as M0Topic
from kio.schema.metadata.v1.request import MetadataRequest as M1
from kio.schema.metadata.v12.request import MetadataRequest as M12
from kio.schema.metadata.v12.request import MetadataRequestTopic as M12Topic
from kio.schema.metadata.v4.request import MetadataRequest as M4
from kio.schema.metadata.v4.request import MetadataRequestTopic as M4Topic

from rafka.broker.controller import requests as rq
from rafka.broker.kafka import dispatch
from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.kafka.errors import MalformedRequest, UnsupportedRequest
from rafka.broker.kafka.schemas import request_schema, response_header_version
from tests.unit.kafka_support.fake_broker import TOPIC_ID, FakeBroker, parse_response, request_frame


async def call(broker, api_key, version, body, correlation_id=7):
    frame = request_frame(api_key, version, body, correlation_id)[4:]
    header, resp = await dispatch.respond(frame, broker)
    assert header.correlation_id == correlation_id
    corr, out = parse_response(api_key, version, resp[4:], response_header_version(api_key, version))
    assert corr == correlation_id
    return out


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
async def test_api_versions_lists_served_ranges(version):
    fields = {} if version < 3 else {"client_software_name": "t", "client_software_version": "1"}
    body = request_schema(18, version)(**fields)
    out = await call(FakeBroker(), 18, version, body)
    assert out.error_code == ErrorCode.none
    ranges = {a.api_key: (a.min_version, a.max_version) for a in out.api_keys}
    assert ranges[18] == (0, 4) and ranges[3] == (0, 12)


async def test_api_versions_of_unserved_version_gets_v0_body_with_error_35():
    frame = b"\x00\x12\x00\x09\x00\x00\x00\x05\xff\xff" + b"future-body"
    _, resp = await dispatch.respond(frame, FakeBroker())
    corr, out = parse_response(18, 0, resp[4:], 0)
    assert corr == 5 and out.error_code == ErrorCode.unsupported_version
    assert {a.api_key for a in out.api_keys} >= {3, 18}


async def test_unserved_api_gets_unsupported_version_in_its_own_shape():
    frame = b"\x00\x32\x00\x00\x00\x00\x00\x05\xff\xff\x00"  # DescribeUserScramCredentials v0 (flexible)
    _, resp = await dispatch.respond(frame, FakeBroker())
    corr, out = parse_response(50, 0, resp[4:], 1)
    assert corr == 5 and out.results == () and out.error_code == ErrorCode.unsupported_version


async def test_unknown_api_key_cannot_be_answered():
    with pytest.raises(UnsupportedRequest):
        await dispatch.respond(b"\x7f\x00\x00\x00\x00\x00\x00\x05\xff\xff", FakeBroker())


async def test_malformed_body_raises():
    good = request_frame(3, 12, M12(topics=None, allow_auto_topic_creation=False,
                                    include_topic_authorized_operations=False))[4:]
    for bad in (good[:-1], good[:12] + b"\xff" * 8):
        with pytest.raises(MalformedRequest):
            await dispatch.respond(bad, FakeBroker())


async def test_metadata_v12_all_topics():
    out = await call(FakeBroker(), 3, 12, M12(topics=None, allow_auto_topic_creation=False,
                                              include_topic_authorized_operations=False))
    assert out.cluster_id == "test-cluster"
    # Only unfenced brokers, at their registered (advertised Kafka) address.
    assert [(b.node_id, b.host, b.port) for b in out.brokers] == [(1, "127.0.0.1", 9092), (2, "127.0.0.1", 9093)]
    assert out.controller_id == 2
    (topic,) = out.topics
    assert topic.name == "orders" and topic.topic_id == uuid.UUID(int=1)
    p0, p1 = topic.partitions
    assert (p0.error_code, p0.leader_id, p0.leader_epoch) == (ErrorCode.none, 1, 4)
    assert (p0.replica_nodes, p0.isr_nodes, p0.offline_replicas) == ((1, 2, 3), (1, 2), (3,))
    assert (p1.error_code, p1.leader_id) == (ErrorCode.leader_not_available, -1)


async def test_metadata_controller_is_a_live_broker():
    b = FakeBroker(leader=3)  # fenced: never named as controller
    out = await call(b, 3, 1, M1(topics=None))
    assert out.controller_id == 1
    b.leader = None
    out = await call(b, 3, 12, M12(topics=None, allow_auto_topic_creation=False,
                                   include_topic_authorized_operations=False))
    assert out.controller_id == 1


async def test_metadata_v0_empty_list_means_all_and_names_are_looked_up():
    out = await call(FakeBroker(), 3, 0, M0(topics=()))
    assert [t.name for t in out.topics] == ["orders"]
    out = await call(FakeBroker(), 3, 0, M0(topics=(M0Topic(name="orders"), M0Topic(name="bad name!"))))
    assert [(t.name, t.error_code) for t in out.topics] == [
        ("orders", ErrorCode.none), ("bad name!", ErrorCode.invalid_topic_exception)]


async def test_metadata_unknown_topic_without_auto_create():
    b = FakeBroker(config=KafkaListenerConfig(auto_create_topics=False))
    out = await call(b, 3, 4, M4(topics=(M4Topic(name="nope"),), allow_auto_topic_creation=True))
    assert out.topics[0].error_code == ErrorCode.unknown_topic_or_partition
    assert b.routed == []
    b = FakeBroker()
    out = await call(b, 3, 4, M4(topics=(M4Topic(name="nope"),), allow_auto_topic_creation=False))
    assert out.topics[0].error_code == ErrorCode.unknown_topic_or_partition


async def test_metadata_auto_creates_with_node_defaults():
    b = FakeBroker(config=KafkaListenerConfig(default_partitions=3, default_replication_factor=2))
    out = await call(b, 3, 12, M12(topics=(M12Topic(name="fresh", topic_id=None),),
                                   allow_auto_topic_creation=True, include_topic_authorized_operations=False))
    assert out.topics[0].error_code == ErrorCode.leader_not_available
    (req,) = b.routed
    assert isinstance(req, rq.CreateTopicsRequest)
    assert (req.topics[0].name, req.topics[0].num_partitions, req.topics[0].replication_factor) == ("fresh", 3, 2)


async def test_metadata_by_topic_id():
    known = uuid.UUID(int=1)
    out = await call(FakeBroker(), 3, 12, M12(topics=(M12Topic(name=None, topic_id=known),
                                                      M12Topic(name=None, topic_id=uuid.UUID(int=9))),
                                              allow_auto_topic_creation=False,
                                              include_topic_authorized_operations=False))
    assert [(t.name, t.error_code) for t in out.topics] == [
        ("orders", ErrorCode.none), (None, ErrorCode.unknown_topic_id)]
    assert TOPIC_ID


async def test_cached_metadata_follows_every_image_change_and_leader_change():
    """Goal: a cached Metadata answer is never stale: a record applied to
    the image or a new Raft leader gives the next request a fresh answer."""
    from rafka.broker.metadata import records as r

    b = FakeBroker()
    req = M12(topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)
    first = await call(b, 3, 12, req)
    again = await call(b, 3, 12, req)
    assert first == again and [t.name for t in again.topics] == ["orders"]
    b.image.apply_batch([r.TopicRecord("more", "AAAAAAAAAAAAAAAAAAAAAw"),
                         r.PartitionRecord("AAAAAAAAAAAAAAAAAAAAAw", 0, (2,), (2,), 2, 0, 0)], b.image.offset + 1)
    assert [t.name for t in (await call(b, 3, 12, req)).topics] == ["more", "orders"]
    b.leader = 1
    assert (await call(b, 3, 12, req)).controller_id == 1
