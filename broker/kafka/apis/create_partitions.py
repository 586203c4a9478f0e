"""CreatePartitions (key 37), versions 0-3: grow a topic to `count`
partitions through the active controller (placement is the controller's;
manual assignments for new partitions are refused)."""

from __future__ import annotations

from rafka.broker.controller import requests as rq
from rafka.broker.kafka.admin import controller_call, ordered_results
from rafka.broker.kafka.context import RequestContext
from rafka.netproto.errors import ErrorCode

API_KEY = 37
MIN_VERSION = 0
MAX_VERSION = 3


async def handle(ctx: RequestContext, request) -> dict:
    out: list[dict | None] = []
    updates = []
    for t in request.topics:
        if t.assignments is not None:
            out.append({"name": t.name, "error_code": ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                        "error_message": "manual assignments for new partitions are not supported"})
        else:
            out.append(None)
            updates.append(rq.PartitionCountUpdate(name=t.name, count=t.count))
    if updates:
        resp, error = await controller_call(ctx, rq.CreatePartitionsRequest(
            topics=updates, validate_only=request.validate_only))
        results = iter(zip(updates, ordered_results(resp, error, len(updates))))
        for i, item in enumerate(out):
            if item is None:
                u, (code, message, _) = next(results)
                out[i] = {"name": u.name, "error_code": code, "error_message": message}
    return {"throttle_time": 0, "results": out}
