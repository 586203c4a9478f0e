"""Goal: the Kafka admin handlers translate each API's request into the
controller's one request shape (defaults, assignments, legacy full-replace
vs incremental config semantics, delete by topic id), describe configs
with Kafka's sources and synonyms, and describe the metadata quorum."""

from __future__ import annotations

import uuid

from kio.schema.errors import ErrorCode

from rafka.broker.controller import requests as rq
from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.kafka.schemas import request_schema, response_header_version
from rafka.broker.kafka.shape import fit
from rafka.broker.metadata import records as r
from rafka.broker.kafka import dispatch
from tests.unit.kafka_support.fake_broker import FakeBroker, parse_response, request_frame


class AdminBroker(FakeBroker):
    """Answers every controller request with success per item."""

    async def route_to_controller(self, msg, timeout_s=None):
        self.routed.append(msg)
        if isinstance(msg, rq.CreateTopicsRequest):
            return rq.CreateTopicsResponse([rq.TopicResult(t.name, topic_id="AAAAAAAAAAAAAAAAAAAAAg")
                                            for t in msg.topics])
        if isinstance(msg, rq.DeleteTopicsRequest):
            return rq.DeleteTopicsResponse([rq.TopicResult(n) for n in msg.names])
        if isinstance(msg, rq.AlterConfigsRequest):
            return rq.AlterConfigsResponse([rq.TopicResult(t.name) for t in msg.topics])
        if isinstance(msg, rq.CreatePartitionsRequest):
            return rq.CreatePartitionsResponse([rq.TopicResult(t.name) for t in msg.topics])
        raise AssertionError(msg)


async def call(broker, api_key, version, data):
    body = fit(request_schema(api_key, version), data)
    _, resp = await dispatch.respond(request_frame(api_key, version, body)[4:], broker)
    return parse_response(api_key, version, resp[4:], response_header_version(api_key, version))[1]


async def test_create_topics_defaults_and_assignments():
    b = AdminBroker(config=KafkaListenerConfig(default_partitions=4, default_replication_factor=2))
    out = await call(b, 19, 7, {"topics": [
        {"name": "a", "num_partitions": -1, "replication_factor": -1, "configs": [{"name": "retention.ms", "value": "5"}]},
        {"name": "m", "num_partitions": -1, "replication_factor": -1, "assignments": [
            {"partition_index": 1, "broker_ids": [2, 1]}, {"partition_index": 0, "broker_ids": [1, 2]}]},
    ], "timeout": 1000, "validate_only": True})
    (req,) = b.routed
    assert req.validate_only
    a, m = req.topics
    assert (a.num_partitions, a.replication_factor, a.configs) == (4, 2, {"retention.ms": "5"})
    assert m.assignments == [[1, 2], [2, 1]]
    assert [(t.num_partitions, t.replication_factor) for t in out.topics] == [(4, 2), (2, 2)]
    retention = next(c for c in out.topics[0].configs if c.name == "retention.ms")
    assert (retention.value, retention.config_source) == ("5", 1)


async def test_route_failure_is_every_items_error():
    class Down(AdminBroker):
        async def route_to_controller(self, msg, timeout_s=None):
            from rafka.netproto.errors import ErrorCode as NE, RafkaError
            raise RafkaError(NE.NOT_CONTROLLER, "no leader")

    out = await call(Down(), 19, 4, {"topics": [{"name": "a", "num_partitions": 1, "replication_factor": 1}]})
    assert out.topics[0].error_code == ErrorCode.not_controller


async def test_delete_topics_by_name_and_id():
    b = AdminBroker()
    out = await call(b, 20, 6, {"topics": [{"name": None, "topic_id": uuid.UUID(int=1)},
                                           {"name": None, "topic_id": uuid.UUID(int=7)}]})
    assert b.routed[0].names == ["orders"]
    assert [(t.name, t.error_code) for t in out.responses] == [
        ("orders", ErrorCode.none), (None, ErrorCode.unknown_topic_id)]
    out = await call(b, 20, 3, {"topic_names": ["x"]})
    assert b.routed[1].names == ["x"] and out.responses[0].error_code == ErrorCode.none


def image_with_override(b):
    b.image.apply(r.ConfigRecord("orders", "retention.ms", "1000"), b.image.offset + 1)
    return b


async def test_alter_configs_replaces_and_incremental_ops():
    b = image_with_override(AdminBroker())
    await call(b, 33, 1, {"resources": [{"resource_type": 2, "resource_name": "orders",
                                         "configs": [{"name": "segment.ms", "value": "9"}]}]})
    assert b.routed[-1].topics[0].configs == {"retention.ms": None, "segment.ms": "9"}
    out = await call(b, 44, 1, {"resources": [{"resource_type": 2, "resource_name": "orders", "configs": [
        {"name": "segment.ms", "config_operation": 0, "value": "9"},
        {"name": "retention.ms", "config_operation": 1, "value": None},
        {"name": "cleanup.policy", "config_operation": 3, "value": "delete"}]}]})
    assert b.routed[-1].topics[0].configs == {"segment.ms": "9", "retention.ms": None, "cleanup.policy": ""}
    assert out.responses[0].error_code == ErrorCode.none
    out = await call(b, 44, 0, {"resources": [
        {"resource_type": 2, "resource_name": "orders", "configs": [
            {"name": "retention.ms", "config_operation": 2, "value": "5"}]},
        {"resource_type": 4, "resource_name": "1", "configs": [
            {"name": "num.partitions", "config_operation": 0, "value": "5"}]}]})
    assert [x.error_code for x in out.responses] == [ErrorCode.invalid_config, ErrorCode.invalid_request]
    assert "list configs only" in out.responses[0].error_message


async def test_describe_configs_sources_synonyms_and_broker():
    b = image_with_override(AdminBroker())
    out = await call(b, 32, 4, {"resources": [
        {"resource_type": 2, "resource_name": "orders", "configuration_keys": ["retention.ms", "segment.ms"]},
        {"resource_type": 2, "resource_name": "nope", "configuration_keys": None},
        {"resource_type": 4, "resource_name": "1", "configuration_keys": None}],
        "include_synonyms": True, "include_documentation": True})
    topic, missing, broker = out.results
    retention, segment = topic.configs
    assert (retention.value, retention.config_source, [s.source for s in retention.synonyms]) == ("1000", 1, [1, 5])
    assert (segment.value, segment.config_source, segment.read_only) == ("604800000", 5, False)
    assert retention.config_type == 5 and retention.documentation
    assert missing.error_code == ErrorCode.unknown_topic_or_partition
    assert all(c.read_only and c.config_source == 4 for c in broker.configs)
    assert {c.name for c in broker.configs} >= {"broker.id", "auto.create.topics.enable", "num.partitions"}


async def test_describe_cluster_and_quorum():
    b = AdminBroker()
    out = await call(b, 60, 1, {"endpoint_type": 1})
    assert [x.broker_id for x in out.brokers] == [1, 2] and out.controller_id == 2
    assert out.cluster_id == "test-cluster"
    out = await call(b, 55, 2, {"topics": [{"topic_name": "__cluster_metadata", "partitions": [{"partition_index": 0}]}]})
    (p,) = out.topics[0].partitions
    assert (p.leader_id, p.leader_epoch, p.high_watermark) == (2, 3, 10)
    assert [v.replica_id for v in p.current_voters] == [1, 2, 3]
    assert [n.node_id for n in out.nodes] == [1, 2, 3]


async def test_consistent_reads_pass_a_barrier_only_when_asked():
    """Goal: the rafka CLI's client-id suffix makes Metadata and
    DescribeConfigs wait for a ReadIndex barrier; other clients never do;
    a failed barrier is an answer without brokers, not stale data."""
    from rafka.broker.kafka.header import RequestHeader, encode_request_header
    from rafka.broker.kafka.codec import encode_body
    from rafka.netproto.errors import ErrorCode as NE, RafkaError

    class Counting(AdminBroker):
        barriers = 0
        fail = False

        async def barrier(self):
            self.barriers += 1
            if self.fail:
                raise RafkaError(NE.LEADER_NOT_AVAILABLE, "no leader")

    b = Counting()
    body = fit(request_schema(3, 12), {"topics": None})
    for client_id, expected in (("kafka-python", 0), ("rafka-cli+consistent", 1)):
        frame = encode_request_header(RequestHeader(3, 12, 1, client_id, 2)) + encode_body(body)
        await dispatch.respond(frame, b)
        assert b.barriers == expected
    b.fail = True
    frame = encode_request_header(RequestHeader(3, 12, 1, "rafka-cli+consistent", 2)) + encode_body(body)
    _, resp = await dispatch.respond(frame, b)
    out = parse_response(3, 12, resp[4:], 1)[1]
    assert out.brokers == () and out.topics[0].error_code == ErrorCode.leader_not_available
