"""OffsetDelete (key 47), version 0: removes committed offsets of a group;
an active consumer group keeps those of topics it subscribes to
(GROUP_SUBSCRIBED_TO_TOPIC)."""

from __future__ import annotations

from rafka.broker.group.errors import GroupError, GroupErrorCode as E
from rafka.broker.kafka.apis.group_common import code, service
from rafka.broker.kafka.context import RequestContext

API_KEY = 47
MIN_VERSION = 0
MAX_VERSION = 0


async def handle(ctx: RequestContext, request) -> dict:
    svc = service(ctx)
    wanted = [(t.name, p.partition_index) for t in request.topics for p in t.partitions]
    try:
        rows = await svc.delete_offsets(request.group_id, wanted)
    except GroupError as exc:
        return {"error_code": code(exc.code), "throttle_time": 0, "topics": []}
    by_topic: dict[str, list[dict]] = {}
    for t, p, err in rows:
        by_topic.setdefault(t, []).append({"partition_index": p, "error_code": code(err)})
    return {"error_code": code(E.NONE), "throttle_time": 0,
            "topics": [{"name": t, "partitions": ps} for t, ps in by_topic.items()]}
