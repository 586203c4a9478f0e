"""ListOffsets (key 2), versions 1-7: an offset per partition by time, from
the partition's leader.

timestamp -2: the log start offset; -1: the high watermark (the latest
offset a consumer can read, for both isolation levels: LSO = HW); -3: the
offset and timestamp of the record batch with the largest timestamp below
the HW (v7); any other value >= 0: the first offset whose batch has a
timestamp >= it, or offset -1 when there is none. Each answer carries the
leader epoch the offset was written in (v4+), -1 when unknown.
"""

from __future__ import annotations

from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get
from rafka.netproto.errors import ErrorCode, RafkaError

API_KEY = 2
MIN_VERSION = 1
MAX_VERSION = 7

LATEST = -1


def partition_answer(replicas, topic: str, p) -> dict:
    index = p.partition_index
    try:
        if replicas is None:
            raise RafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, "this node hosts no partitions")
        offset, timestamp = replicas.list_offset(topic, index, p.timestamp, get(p, "current_leader_epoch", -1))
        part = replicas.partition(topic, index)
        epoch = -1
        if offset >= 0:
            epoch = part.role.leader_epoch if p.timestamp == LATEST else \
                part.log.leader_epochs.epoch_for_offset(offset)
    except RafkaError as exc:
        return {"partition_index": index, "error_code": int(exc.code), "timestamp": -1, "offset": -1,
                "leader_epoch": -1}
    return {"partition_index": index, "error_code": 0, "timestamp": timestamp, "offset": offset,
            "leader_epoch": epoch}


async def handle(ctx: RequestContext, request) -> dict:
    replicas = getattr(ctx.broker, "replicas", None)
    topics = [{"name": t.name, "partitions": [partition_answer(replicas, t.name, p) for p in t.partitions]}
              for t in request.topics]
    return {"throttle_time": 0, "topics": topics}
