"""DeleteGroups (key 42), versions 0-2: an Empty group and its offsets are
removed (tombstones, acks=all); NON_EMPTY_GROUP while it has members,
GROUP_ID_NOT_FOUND for an unknown one."""

from __future__ import annotations

from rafka.broker.group.errors import GroupError
from rafka.broker.kafka.apis.group_common import code, service
from rafka.broker.kafka.context import RequestContext

API_KEY = 42
MIN_VERSION = 0
MAX_VERSION = 2


async def handle(ctx: RequestContext, request) -> dict:
    svc = service(ctx)
    results = []
    for gid in request.groups_names:
        try:
            err = await svc.delete_group(gid)
        except GroupError as exc:
            err = exc.code
        results.append({"group_id": gid, "error_code": code(err)})
    return {"throttle_time": 0, "results": results}
