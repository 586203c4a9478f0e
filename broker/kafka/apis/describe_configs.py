"""DescribeConfigs (key 32), versions 1-4: topic configs from this node's
image (override or default, with sources; synonyms and documentation when
asked) and this broker's static, read-only settings."""

from __future__ import annotations

from rafka.broker.kafka.configs import BROKER, TOPIC, broker_entries, topic_entries
from rafka.broker.kafka.consistency import barrier_if_asked
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get
from rafka.netproto.errors import ErrorCode

API_KEY = 32
MIN_VERSION = 1
MAX_VERSION = 4


def _result(resource, code=ErrorCode.NONE, message=None, configs=()) -> dict:
    return {"error_code": code, "error_message": message, "resource_type": resource.resource_type,
            "resource_name": resource.resource_name, "configs": configs}


async def handle(ctx: RequestContext, request) -> dict:
    await barrier_if_asked(ctx)
    synonyms = get(request, "include_synonyms", False)
    documentation = get(request, "include_documentation", False)
    image = ctx.broker.image
    results = []
    for res in request.resources:
        keys = res.configuration_keys
        if res.resource_type == TOPIC:
            t = image.topic(res.resource_name)
            if t is None:
                results.append(_result(res, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                                       f"topic {res.resource_name} does not exist"))
                continue
            results.append(_result(res, configs=topic_entries(t.configs, keys, synonyms=synonyms,
                                                              documentation=documentation)))
        elif res.resource_type == BROKER:
            if res.resource_name not in ("", str(ctx.broker.node_id)):
                results.append(_result(res, ErrorCode.INVALID_REQUEST,
                                       f"broker {res.resource_name}'s configs are served by that broker, "
                                       f"this is broker {ctx.broker.node_id}"))
                continue
            results.append(_result(res, configs=broker_entries(ctx.broker.node_id, ctx.broker.config, keys,
                                                               synonyms=synonyms, documentation=documentation)))
        else:
            results.append(_result(res, ErrorCode.INVALID_REQUEST,
                                   f"resource type {res.resource_type} has no configs here"))
    return {"throttle_time": 0, "results": results}
