"""DescribeGroups (key 15), versions 0-5: state, protocol type, chosen
protocol and members with metadata and assignment (Dead with no members for
an unknown group, as Kafka answers)."""

from __future__ import annotations

from rafka.broker.group.errors import GroupError, GroupErrorCode as E
from rafka.broker.group.group import GroupState as S
from rafka.broker.kafka.apis.group_common import code, service
from rafka.broker.kafka.context import RequestContext

API_KEY = 15
MIN_VERSION = 0
MAX_VERSION = 5


def _one(svc, group_id: str) -> dict:
    try:
        g = svc.describe(group_id)
    except GroupError as exc:
        return {"error_code": code(exc.code), "group_id": group_id, "group_state": "", "protocol_type": "",
                "protocol_data": "", "members": [], "authorized_operations": -2147483648}
    if g is None:
        return {"error_code": code(E.NONE), "group_id": group_id, "group_state": S.DEAD.value,
                "protocol_type": "", "protocol_data": "", "members": [], "authorized_operations": -2147483648}
    stable = g.state == S.STABLE
    members = []
    for m in g.members.values():
        meta = b""
        if g.protocol is not None:
            try:
                meta = m.metadata_for(g.protocol)
            except KeyError:
                meta = b""
        members.append({"member_id": m.member_id, "group_instance_id": m.group_instance_id,
                        "client_id": m.client_id, "client_host": m.client_host, "member_metadata": meta,
                        "member_assignment": m.assignment if stable else b""})
    return {"error_code": code(E.NONE), "group_id": group_id, "group_state": g.state.value,
            "protocol_type": g.protocol_type or "", "protocol_data": g.protocol or "", "members": members,
            "authorized_operations": -2147483648}


async def handle(ctx: RequestContext, request) -> dict:
    svc = service(ctx)
    return {"throttle_time": 0, "groups": [_one(svc, gid) for gid in request.groups]}
