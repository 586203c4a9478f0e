"""Heartbeat (key 12), versions 0-4: keeps a member's session;
REBALANCE_IN_PROGRESS tells it to rejoin."""

from __future__ import annotations

from rafka.broker.group.errors import GroupError
from rafka.broker.kafka.apis.group_common import code, service
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get

API_KEY = 12
MIN_VERSION = 0
MAX_VERSION = 4


async def handle(ctx: RequestContext, request) -> dict:
    svc = service(ctx)
    try:
        err = svc.heartbeat(group_id=request.group_id, generation_id=request.generation_id,
                            member_id=request.member_id, group_instance_id=get(request, "group_instance_id"))
    except GroupError as exc:
        err = exc.code
    return {"throttle_time": 0, "error_code": code(err)}
