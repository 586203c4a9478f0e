"""OffsetFetch (key 9), versions 1-8: committed offsets (-1 when none);
null topics (v2+) means every committed partition; require_stable (v7+)
answers UNSTABLE_OFFSET_COMMIT for a partition with a commit in flight;
v8 batches groups."""

from __future__ import annotations

from rafka.broker.group.errors import GroupError, GroupErrorCode as E
from rafka.broker.kafka.apis.group_common import code, service
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get

API_KEY = 9
MIN_VERSION = 1
MAX_VERSION = 8


def _group(svc, group_id: str, topics, require_stable: bool) -> tuple[list[dict], int]:
    wanted = None if topics is None else [(t.name, p) for t in topics for p in t.partition_indexes]
    try:
        rows = svc.fetch_offsets(group_id, wanted, require_stable)
    except GroupError as exc:
        rows = [(t, p, None, exc.code) for t, p in (wanted or [])]
        top = exc.code
    else:
        top = E.NONE
    by_topic: dict[str, list[dict]] = {}
    for t, p, value, err in rows:
        by_topic.setdefault(t, []).append({
            "partition_index": p, "committed_offset": -1 if value is None else value.offset,
            "committed_leader_epoch": -1 if value is None else value.leader_epoch,
            "metadata": "" if value is None else value.metadata, "error_code": code(err)})
    return [{"name": t, "partitions": ps} for t, ps in by_topic.items()], top


async def handle(ctx: RequestContext, request) -> dict:
    svc = service(ctx)
    require_stable = bool(get(request, "require_stable", False))
    if ctx.version >= 8:
        groups = []
        for g in request.groups:
            topics, top = _group(svc, g.group_id, g.topics, require_stable)
            groups.append({"group_id": g.group_id, "topics": topics, "error_code": code(top)})
        return {"throttle_time": 0, "groups": groups}
    topics, top = _group(svc, request.group_id, request.topics, require_stable)
    if ctx.version < 2 and top != E.NONE:
        # v1 has no top-level error: it is on each partition.
        return {"throttle_time": 0, "topics": topics}
    return {"throttle_time": 0, "topics": topics, "error_code": code(top)}
