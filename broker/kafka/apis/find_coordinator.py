"""FindCoordinator (key 10), versions 0-4: a group's coordinator is the
leader of the __consumer_offsets partition its id hashes to. The topic is
created on first use (COORDINATOR_NOT_AVAILABLE until it has a leader; the
client retries). v4 batches keys. Transaction coordinators (key type 1)
are not served."""

from __future__ import annotations

from rafka.broker.group.errors import GroupErrorCode as E
from rafka.broker.kafka.apis.group_common import code, service
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get

API_KEY = 10
MIN_VERSION = 0
MAX_VERSION = 4

GROUP_KEY_TYPE = 0


async def _one(ctx: RequestContext, svc, key: str, key_type: int) -> dict:
    def err(c, msg):
        return {"key": key, "error_code": code(c), "error_message": msg, "node_id": -1, "host": "", "port": -1}

    if key_type != GROUP_KEY_TYPE:
        return err(E.INVALID_REQUEST, f"key type {key_type} is not served (groups only)")
    if not key:
        return err(E.INVALID_REQUEST, "empty group id")
    if svc.num_partitions() is None:
        await svc.ensure_topic()
    node = svc.coordinator_of(key)
    broker = ctx.broker.image.brokers.get(node) if node is not None else None
    if broker is None or broker.fenced:
        return err(E.COORDINATOR_NOT_AVAILABLE, "the group's coordinator is not available yet")
    return {"key": key, "error_code": code(E.NONE), "error_message": None, "node_id": node,
            "host": broker.host, "port": broker.port}


async def handle(ctx: RequestContext, request) -> dict:
    svc = service(ctx)
    key_type = get(request, "key_type", GROUP_KEY_TYPE)
    if ctx.version >= 4:
        return {"throttle_time": 0,
                "coordinators": [await _one(ctx, svc, k, key_type) for k in request.coordinator_keys]}
    one = await _one(ctx, svc, request.key, key_type)
    one.pop("key")
    return {"throttle_time": 0, **one}
