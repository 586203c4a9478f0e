"""What AlterConfigs and IncrementalAlterConfigs share: topic changes go
to the controller as one AlterConfigsRequest (validated exactly as the
CLI's), broker configs are read-only, other resource types are refused."""

from __future__ import annotations

from rafka.broker.controller import requests as rq
from rafka.broker.kafka.admin import controller_call, ordered_results
from rafka.broker.kafka.configs import BROKER, TOPIC
from rafka.broker.kafka.context import RequestContext
from rafka.netproto.errors import ErrorCode, RafkaError


def resource_result(res, code=ErrorCode.NONE, message=None) -> dict:
    return {"error_code": code, "error_message": message, "resource_type": res.resource_type,
            "resource_name": res.resource_name}


async def alter(ctx: RequestContext, resources, validate_only: bool, changes_for) -> dict:
    """`changes_for(resource, topic_image) -> {key: value or None}` (raises
    RafkaError for an invalid operation)."""
    out: list[dict | None] = []
    items: list[rq.AlterableTopicConfigs] = []
    image = ctx.broker.image
    for res in resources:
        if res.resource_type == BROKER:
            out.append(resource_result(res, ErrorCode.INVALID_REQUEST,
                                       "broker configs are static in rafka (node.toml); they cannot be altered"))
        elif res.resource_type != TOPIC:
            out.append(resource_result(res, ErrorCode.INVALID_REQUEST,
                                       f"resource type {res.resource_type} has no configs here"))
        else:
            topic = image.topic(res.resource_name)
            try:
                changes = changes_for(res, topic)
            except RafkaError as exc:
                out.append(resource_result(res, int(exc.code), exc.message))
                continue
            out.append(None)
            items.append(rq.AlterableTopicConfigs(name=res.resource_name, configs=changes))
    if items:
        resp, error = await controller_call(ctx, rq.AlterConfigsRequest(topics=items, validate_only=validate_only))
        results = iter(ordered_results(resp, error, len(items)))
        for i, res in enumerate(resources):
            if out[i] is None:
                code, message, _ = next(results)
                out[i] = resource_result(res, code, message)
    return {"throttle_time": 0, "responses": out}
