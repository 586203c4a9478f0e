"""Topic auto-creation for a Kafka client (Kafka's auto.create.topics.enable):
a Metadata or a Produce naming a topic the image does not know asks the
controller to create it with the node's default partitions and replication
factor. Either way the client's answer is retriable (LEADER_NOT_AVAILABLE)
unless the controller refused the name."""

from __future__ import annotations

import structlog

from rafka.broker.controller import requests as rq
from rafka.broker.kafka.context import RequestContext
from rafka.netproto.errors import ErrorCode, RafkaError

log = structlog.get_logger("rafka.kafka")


async def auto_create_topic(ctx: RequestContext, name: str) -> int:
    """Ask the controller to create `name`; the error code for the answer."""
    cfg = ctx.broker.config
    req = rq.CreateTopicsRequest(topics=[rq.CreatableTopic(
        name=name, num_partitions=cfg.default_partitions,
        replication_factor=cfg.default_replication_factor)])
    try:
        resp = await ctx.broker.route_to_controller(req)
    except RafkaError as exc:
        log.info("kafka.auto_create_failed", node_id=ctx.broker.node_id, topic=name, error=exc.code.name)
        return ErrorCode.LEADER_NOT_AVAILABLE
    result = resp.results[0]
    if result.error_code not in (ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS):
        log.info("kafka.auto_create_refused", node_id=ctx.broker.node_id, topic=name,
                 error=result.error_code, message=result.error_message)
        if result.error_code == ErrorCode.INVALID_TOPIC_EXCEPTION:
            return ErrorCode.INVALID_TOPIC_EXCEPTION
        return ErrorCode.LEADER_NOT_AVAILABLE if result.error_code == ErrorCode.INVALID_REPLICATION_FACTOR \
            else result.error_code
    log.info("kafka.topic_auto_created", node_id=ctx.broker.node_id, topic=name)
    return ErrorCode.LEADER_NOT_AVAILABLE
