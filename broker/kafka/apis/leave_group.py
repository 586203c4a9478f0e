"""LeaveGroup (key 13), versions 0-4: one member (v0-2) or a batch of
members by member id or instance id (v3+)."""

from __future__ import annotations

from rafka.broker.group.errors import GroupError, GroupErrorCode as E
from rafka.broker.kafka.apis.group_common import code, service
from rafka.broker.kafka.context import RequestContext

API_KEY = 13
MIN_VERSION = 0
MAX_VERSION = 4


async def handle(ctx: RequestContext, request) -> dict:
    svc = service(ctx)
    if ctx.version >= 3:
        members = [(m.member_id or "", m.group_instance_id) for m in request.members]
    else:
        members = [(request.member_id, None)]
    try:
        top, results = svc.leave(request.group_id, members)
    except GroupError as exc:
        return {"throttle_time": 0, "error_code": code(exc.code), "members": []}
    if ctx.version < 3:
        return {"throttle_time": 0, "error_code": code(results[0].error if results else E.NONE)}
    return {"throttle_time": 0, "error_code": code(top),
            "members": [{"member_id": r.member_id, "group_instance_id": r.group_instance_id,
                         "error_code": code(r.error)} for r in results]}
