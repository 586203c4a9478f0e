"""CreatePartitions (key 37), versions 0-3: grow a topic to `count`
partitions through the active controller, placed by the controller or, as
Kafka allows, by the client's replica assignments (one broker id list per
new partition; the controller checks them: INVALID_REPLICA_ASSIGNMENT)."""

from __future__ import annotations

from rafka.broker.controller import requests as rq
from rafka.broker.kafka.admin import controller_call, ordered_results
from rafka.broker.kafka.context import RequestContext

API_KEY = 37
MIN_VERSION = 0
MAX_VERSION = 3


def count_update(t) -> rq.PartitionCountUpdate:
    assignments = None
    if t.assignments is not None:
        assignments = [[int(b) for b in a.broker_ids] for a in t.assignments]
    return rq.PartitionCountUpdate(name=t.name, count=int(t.count), assignments=assignments)


async def handle(ctx: RequestContext, request) -> dict:
    updates = [count_update(t) for t in request.topics]
    if not updates:
        return {"throttle_time": 0, "results": []}
    resp, error = await controller_call(ctx, rq.CreatePartitionsRequest(
        topics=updates, validate_only=request.validate_only))
    results = ordered_results(resp, error, len(updates))
    return {"throttle_time": 0, "results": [
        {"name": u.name, "error_code": code, "error_message": message}
        for u, (code, message, _) in zip(updates, results)]}
