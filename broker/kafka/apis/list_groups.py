"""ListGroups (key 16), versions 0-4: the groups this broker coordinates
(clients ask every broker); v4 filters by state."""

from __future__ import annotations

from rafka.broker.group.errors import GroupErrorCode as E
from rafka.broker.kafka.apis.group_common import code, service
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get

API_KEY = 16
MIN_VERSION = 0
MAX_VERSION = 4


async def handle(ctx: RequestContext, request) -> dict:
    svc = service(ctx)
    states = {s.lower() for s in (get(request, "states_filter", ()) or ())}
    groups = [{"group_id": g.group_id, "protocol_type": g.protocol_type or "", "group_state": g.state.value}
              for g in svc.list_groups() if not states or g.state.value.lower() in states]
    return {"throttle_time": 0, "error_code": code(E.NONE), "groups": groups}
