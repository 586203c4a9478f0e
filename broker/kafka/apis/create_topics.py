"""CreateTopics (key 19), versions 2-7, through the active controller.

-1 partitions / replication factor (v4+) mean the node's defaults; replica
assignments give the replica lists directly; configs are validated exactly
as the CLI's (controller/validation.py). validate_only checks and creates
nothing. v5+ answers carry the partition count, replication factor and the
topic's configs; v7 the topic id.
"""

from __future__ import annotations

from rafka.broker.controller import requests as rq
from rafka.broker.kafka.admin import controller_call, ordered_results
from rafka.broker.kafka.configs import topic_entries
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.topic_ids import ZERO, to_uuid
from rafka.netproto.errors import ErrorCode

API_KEY = 19
MIN_VERSION = 2
MAX_VERSION = 7


def _creatable(ctx: RequestContext, t) -> rq.CreatableTopic:
    cfg = ctx.broker.config
    configs = {c.name: c.value for c in t.configs if c.value is not None}
    if t.assignments:
        return rq.CreatableTopic(
            name=t.name, num_partitions=t.num_partitions, replication_factor=t.replication_factor,
            configs=configs,
            assignments=[list(a.broker_ids) for a in sorted(t.assignments, key=lambda a: a.partition_index)],
        )
    return rq.CreatableTopic(
        name=t.name,
        num_partitions=cfg.default_partitions if t.num_partitions == -1 else t.num_partitions,
        replication_factor=cfg.default_replication_factor if t.replication_factor == -1 else t.replication_factor,
        configs=configs,
    )


async def handle(ctx: RequestContext, request) -> dict:
    items = [_creatable(ctx, t) for t in request.topics]
    resp, error = await controller_call(ctx, rq.CreateTopicsRequest(topics=items,
                                                                   validate_only=request.validate_only))
    results = ordered_results(resp, error, len(items))
    topics = []
    for item, (code, message, topic_id) in zip(items, results):
        ok = code == ErrorCode.NONE
        partitions = len(item.assignments) if item.assignments else item.num_partitions
        rf = len(item.assignments[0]) if item.assignments else item.replication_factor
        topics.append({
            "name": item.name,
            "topic_id": to_uuid(topic_id) if ok and topic_id else ZERO,
            "error_code": code,
            "error_message": message,
            "num_partitions": partitions if ok else -1,
            "replication_factor": rf if ok else -1,
            "configs": topic_entries(item.configs, None, synonyms=False, documentation=False) if ok else None,
        })
    return {"throttle_time": 0, "topics": topics}
