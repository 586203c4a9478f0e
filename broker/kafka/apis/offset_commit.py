"""OffsetCommit (key 8), versions 2-8: validated against the group
(ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
REBALANCE_IN_PROGRESS; generation -1 for consumers that assign partitions
themselves) and acknowledged only once the records are durable on the ISR
of the group's __consumer_offsets partition. v2-4's retention time is
ignored (offsets.retention applies, as in Kafka 2.1+)."""

from __future__ import annotations

from rafka.broker.group.errors import GroupError
from rafka.broker.kafka.apis.group_common import code, service
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get

API_KEY = 8
MIN_VERSION = 2
MAX_VERSION = 8


async def handle(ctx: RequestContext, request) -> dict:
    svc = service(ctx)
    generation = get(request, "generation_id_or_member_epoch", get(request, "generation_id", -1))
    items = [(t.name, p.partition_index, p.committed_offset, get(p, "committed_leader_epoch", -1),
              p.committed_metadata) for t in request.topics for p in t.partitions]
    try:
        errors = await svc.commit_offsets(request.group_id, generation, request.member_id or "",
                                          get(request, "group_instance_id"), items)
    except GroupError as exc:
        errors = [exc.code] * len(items)
    it = iter(errors)
    return {"throttle_time": 0, "topics": [
        {"name": t.name, "partitions": [{"partition_index": p.partition_index, "error_code": code(next(it))}
                                        for p in t.partitions]} for t in request.topics]}
