"""JoinGroup (key 11), versions 0-7: the member-id-required round from v4
(MEMBER_ID_REQUIRED with the member id to rejoin with), rebalance timeout
from v1 (v0: the session timeout), static members from v5, protocol type
and name in the answer from v7. The answer waits until the join phase
completes (the coordinator's rebalance timeout bounds it)."""

from __future__ import annotations

from rafka.broker.group.errors import GroupError
from rafka.broker.kafka.apis.group_common import code, ms, service
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get

API_KEY = 11
MIN_VERSION = 0
MAX_VERSION = 7


async def handle(ctx: RequestContext, request) -> dict:
    svc = service(ctx)
    session = ms(request.session_timeout)
    rebalance = ms(get(request, "rebalance_timeout", request.session_timeout))
    try:
        r = await svc.join(
            group_id=request.group_id, member_id=request.member_id or "",
            group_instance_id=get(request, "group_instance_id"), client_id=ctx.header.client_id or "",
            client_host=ctx.client_host,
            session_timeout_ms=session, rebalance_timeout_ms=rebalance, protocol_type=request.protocol_type,
            protocols=[(p.name, p.metadata) for p in request.protocols],
            require_known_member_id=ctx.version >= 4)
    except GroupError as exc:
        return {"throttle_time": 0, "error_code": code(exc.code), "generation_id": -1,
                "member_id": request.member_id or "", "leader": "", "members": []}
    return {"throttle_time": 0, "error_code": code(r.error), "generation_id": r.generation_id,
            "protocol_type": r.protocol_type, "protocol_name": r.protocol_name or (None if ctx.version >= 7 else ""),
            "leader": r.leader, "member_id": r.member_id,
            "members": [{"member_id": m, "group_instance_id": i, "metadata": meta} for m, i, meta in r.members]}
