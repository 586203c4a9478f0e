"""SyncGroup (key 14), versions 0-5: the leader hands in the assignments;
every member's answer waits until they are durable in __consumer_offsets.
v5 checks the protocol type and name."""

from __future__ import annotations

from rafka.broker.group.errors import GroupError
from rafka.broker.kafka.apis.group_common import code, service
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get

API_KEY = 14
MIN_VERSION = 0
MAX_VERSION = 5


async def handle(ctx: RequestContext, request) -> dict:
    svc = service(ctx)
    try:
        r = await svc.sync(
            group_id=request.group_id, generation_id=request.generation_id, member_id=request.member_id,
            group_instance_id=get(request, "group_instance_id"), protocol_type=get(request, "protocol_type"),
            protocol_name=get(request, "protocol_name"),
            assignments={a.member_id: a.assignment for a in request.assignments})
    except GroupError as exc:
        return {"throttle_time": 0, "error_code": code(exc.code), "assignment": b""}
    return {"throttle_time": 0, "error_code": code(r.error), "protocol_type": r.protocol_type,
            "protocol_name": r.protocol_name, "assignment": r.assignment}
