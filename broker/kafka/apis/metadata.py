"""Metadata (key 3), versions 0-12, served from this node's MetadataImage.

- brokers: every registered, unfenced broker at its advertised Kafka
  address (the address it registered with).
- controller_id: the active controller when it is one of those brokers,
  else the lowest of them, else this node: always a live broker, because
  kafka-python loops forever on -1.
- per partition: leader (-1 and LEADER_NOT_AVAILABLE when leaderless),
  leader epoch, replicas, ISR, offline replicas (fenced or unregistered).
- topics: all (null list; an empty list in v0), or by name / topic id.
  An unknown name is created when the request allows it (v4+) and the
  node's `auto_create_topics` is on, with the node's default partitions
  and replication factor; the answer then says LEADER_NOT_AVAILABLE until
  this node's image holds it (the client retries).

Answers are a pure function of the request and `cache_stamp` (the image,
its offset and the active controller): the image changes only with its
offset, so the listener reuses the encoded answer (answer_cache.py) until
the stamp moves. Only answers that created nothing and found every topic
are kept (`cacheable`); a consistent read never is (it passes a barrier).
"""

from __future__ import annotations

import structlog

from rafka.broker.controller.validation import validate_topic_name
from rafka.broker.kafka.consistency import barrier_if_asked
from rafka.broker.kafka.auto_create import auto_create_topic
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get
from rafka.broker.kafka.topic_ids import ZERO, from_uuid, to_uuid
from rafka.broker.metadata.image import MetadataImage, TopicImage
from rafka.netproto.errors import ErrorCode, RafkaError

API_KEY = 3
MIN_VERSION = 0
MAX_VERSION = 12

log = structlog.get_logger("rafka.kafka")

INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})


def cache_stamp(broker) -> tuple:
    """What an answer depends on besides the request bytes (answer_cache.py;
    dispatch never caches a consistent read)."""
    image = broker.image
    return (image, image.offset, broker.leader_id())


def cacheable(data) -> bool:
    """An answer that created nothing and found every topic asked for."""
    return isinstance(data, dict) and not any(t["error_code"] for t in data["topics"])


def live_brokers(image: MetadataImage) -> list:
    return sorted((b for b in image.brokers.values() if not b.fenced), key=lambda b: b.node_id)


def controller_id(image: MetadataImage, leader_id: int | None, node_id: int) -> int:
    live = [b.node_id for b in live_brokers(image)]
    if leader_id in live:
        return leader_id
    return live[0] if live else node_id


def topic_body(image: MetadataImage, t: TopicImage) -> dict:
    live = {b.node_id for b in live_brokers(image)}
    partitions = []
    for p in t.partitions:
        partitions.append({
            "error_code": ErrorCode.NONE if p.leader is not None else ErrorCode.LEADER_NOT_AVAILABLE,
            "partition_index": p.partition,
            "leader_id": -1 if p.leader is None else p.leader,
            "leader_epoch": p.leader_epoch,
            "replica_nodes": p.replicas,
            "isr_nodes": p.isr,
            "offline_replicas": tuple(b for b in p.replicas if b not in live),
        })
    return {
        "error_code": ErrorCode.NONE,
        "name": t.name,
        "topic_id": to_uuid(t.topic_id),
        "is_internal": t.name in INTERNAL_TOPICS,
        "partitions": partitions,
    }


def missing_topic(code: int, name: str | None, topic_id=None) -> dict:
    return {"error_code": code, "name": name, "topic_id": topic_id or ZERO, "partitions": ()}


async def _named_topic(ctx: RequestContext, name: str, allow_create: bool) -> dict:
    image = ctx.broker.image
    t = image.topic(name)
    if t is not None:
        return topic_body(image, t)
    try:
        validate_topic_name(name)
    except RafkaError:
        return missing_topic(ErrorCode.INVALID_TOPIC_EXCEPTION, name)
    if not allow_create:
        return missing_topic(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name)
    code = await auto_create_topic(ctx, name)
    image = ctx.broker.image
    t = image.topic(name)
    if t is not None and code == ErrorCode.LEADER_NOT_AVAILABLE:
        return topic_body(image, t)
    return missing_topic(code, name)


async def handle(ctx: RequestContext, request) -> dict:
    try:
        await barrier_if_asked(ctx)
    except RafkaError as exc:
        # Metadata has no top-level error: a failed consistent read (rafka
        # CLI only) is an answer without brokers whose one topic carries it.
        log.info("kafka.consistent_read_failed", node_id=ctx.broker.node_id, error=exc.code.name)
        return {"throttle_time": 0, "brokers": [], "cluster_id": ctx.broker.cluster_id, "controller_id": -1,
                "topics": [missing_topic(exc.code, "")]}
    requested = request.topics
    if ctx.version == 0 and not requested:
        requested = None  # v0: an empty list means every topic
    allow_create = ctx.broker.config.auto_create_topics and (
        ctx.version < 4 or get(request, "allow_auto_topic_creation", True))
    topics = []
    if requested is None:
        image = ctx.broker.image
        topics = [topic_body(image, t) for _, t in sorted(image.topics_by_name.items())]
    else:
        for item in requested:
            name = get(item, "name")
            topic_id = from_uuid(get(item, "topic_id"))
            if name is None and topic_id is not None:
                image = ctx.broker.image
                t = image.topics_by_id.get(topic_id)
                topics.append(topic_body(image, t) if t is not None else
                              missing_topic(ErrorCode.UNKNOWN_TOPIC_ID, None, get(item, "topic_id")))
            elif name is None:
                topics.append(missing_topic(ErrorCode.INVALID_REQUEST, None))
            else:
                topics.append(await _named_topic(ctx, name, allow_create))
    image = ctx.broker.image
    brokers = [{"node_id": b.node_id, "host": b.host, "port": b.port, "rack": b.rack}
               for b in live_brokers(image)]
    return {
        "throttle_time": 0,
        "brokers": brokers,
        "cluster_id": ctx.broker.cluster_id,
        "controller_id": controller_id(image, ctx.broker.leader_id(), ctx.broker.node_id),
        "topics": topics,
        "cluster_authorized_operations": -2147483648,
    }
