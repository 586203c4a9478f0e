"""OffsetForLeaderEpoch (key 23), versions 2-4: for a consumer (KIP-320)
checking its position after a leader change, the largest leader epoch <=
the one asked for and the end offset of that epoch in the leader's log
(KIP-101/279); -1/-1 when the leader's epoch cache knows none.
Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER,
FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH (current_leader_epoch check)."""

from __future__ import annotations

from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get
from rafka.netproto.errors import ErrorCode, RafkaError

API_KEY = 23
MIN_VERSION = 2
MAX_VERSION = 4


def partition_answer(replicas, topic: str, p) -> dict:
    try:
        if replicas is None:
            raise RafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, "this node hosts no partitions")
        epoch, end = replicas.offset_for_leader_epoch(topic, p.partition, p.leader_epoch,
                                                      get(p, "current_leader_epoch", -1))
    except RafkaError as exc:
        return {"error_code": int(exc.code), "partition": p.partition, "leader_epoch": -1, "end_offset": -1}
    return {"error_code": 0, "partition": p.partition, "leader_epoch": epoch, "end_offset": end}


async def handle(ctx: RequestContext, request) -> dict:
    replicas = getattr(ctx.broker, "replicas", None)
    topics = [{"topic": t.topic, "partitions": [partition_answer(replicas, t.topic, p) for p in t.partitions]}
              for t in request.topics]
    return {"throttle_time": 0, "topics": topics}
