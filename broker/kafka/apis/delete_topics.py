"""DeleteTopics (key 20), versions 1-6, by name (v1-5) or by name or topic
id (v6), through the active controller. An unknown topic id is
UNKNOWN_TOPIC_ID without asking the controller."""

from __future__ import annotations

from rafka.broker.controller import requests as rq
from rafka.broker.kafka.admin import controller_call, ordered_results
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get
from rafka.broker.kafka.topic_ids import ZERO, from_uuid, to_uuid
from rafka.netproto.errors import ErrorCode

API_KEY = 20
MIN_VERSION = 1
MAX_VERSION = 6


async def handle(ctx: RequestContext, request) -> dict:
    wanted: list[tuple[str | None, object]] = []  # (name, topic_id uuid)
    if ctx.version >= 6:
        image = ctx.broker.image
        for t in request.topics:
            name = t.name
            if name is None:
                topic = image.topics_by_id.get(from_uuid(t.topic_id) or "")
                name = topic.name if topic is not None else None
            wanted.append((name, t.topic_id))
    else:
        wanted = [(n, None) for n in get(request, "topic_names", ())]
    names = [n for n, _ in wanted if n is not None]
    results = iter(())
    if names:
        resp, error = await controller_call(ctx, rq.DeleteTopicsRequest(names=names))
        results = iter(ordered_results(resp, error, len(names)))
    out = []
    for name, topic_id in wanted:
        if name is None:
            out.append({"name": None, "topic_id": topic_id or ZERO, "error_code": ErrorCode.UNKNOWN_TOPIC_ID,
                        "error_message": f"no topic with id {from_uuid(topic_id)}"})
            continue
        code, message, tid = next(results)
        out.append({"name": name, "topic_id": to_uuid(tid) if tid else (topic_id or ZERO),
                    "error_code": code, "error_message": message})
    return {"throttle_time": 0, "responses": out}
