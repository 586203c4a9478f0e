"""What AddRaftVoter and RemoveRaftVoter share (KIP-853's APIs, served
with rafka's one-server-at-a-time semantics: add promotes a caught-up
observer, remove demotes a voter; decided on the Raft leader, forwarded
there by any node; the refusals are voter_policy.py's)."""

from __future__ import annotations

from rafka.broker.kafka.context import RequestContext
from rafka.netproto.errors import ErrorCode, RafkaError

INCONSISTENT_CLUSTER_ID = 104


async def change(ctx: RequestContext, kind: str, request) -> dict:
    cluster_id = getattr(request, "cluster_id", None)
    if cluster_id is not None and cluster_id != ctx.broker.cluster_id:
        return {"throttle_time": 0, "error_code": INCONSISTENT_CLUSTER_ID,
                "error_message": f"cluster id {cluster_id!r} is not this cluster's ({ctx.broker.cluster_id})"}
    change_voters = getattr(ctx.broker, "change_voters", None)
    if change_voters is None:
        return {"throttle_time": 0, "error_code": ErrorCode.INVALID_REQUEST,
                "error_message": "voter changes are not served by this node"}
    try:
        resp = await change_voters(kind, request.voter_id)
    except RafkaError as exc:
        return {"throttle_time": 0, "error_code": int(exc.code), "error_message": exc.message}
    return {"throttle_time": 0, "error_code": ErrorCode.NONE,
            "error_message": f"voters={resp.voters} observers={resp.observers}"}
