"""Produce (key 0), versions 3-9: one record batch per partition appended
on this broker's leader replica through the ReplicaManager.

- acks 0: appended, and no response at all on the wire (`NO_RESPONSE`);
  acks 1: answered once the leader appended; acks -1 (all): once the HW
  passed the batch (every ISR replica has it durable), or REQUEST_TIMED_OUT
  after the request's timeout; any other value: INVALID_REQUIRED_ACKS.
- Batches are appended in request order across a connection's pipelined
  requests; once this request's batches are in the log it releases its
  turn (request_order.py), so the next request runs while this one waits
  for acks=all.
- Partitions are appended concurrently and answered per partition with
  Kafka's codes (UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER,
  NOT_ENOUGH_REPLICAS with nothing appended, CORRUPT_MESSAGE,
  MESSAGE_TOO_LARGE, INVALID_RECORD, OUT_OF_ORDER_SEQUENCE_NUMBER, ...);
  one bad partition never fails another.
- A duplicate of an idempotent producer's batch gets its original offsets.
- Transactions do not exist: a request with a transactional id gets
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED on every partition, nothing appended.
- A topic this node's image does not know is created when the node's
  `auto_create_topics` is on (Metadata's path, node default partitions and
  replication factor), once per request; this request's partitions of it
  get LEADER_NOT_AVAILABLE (retriable: the client refreshes its metadata
  and sends again). Off: UNKNOWN_TOPIC_OR_PARTITION, nothing created.
"""

from __future__ import annotations

import datetime

import structlog
import trio

from rafka.broker.controller.validation import validate_topic_name
from rafka.broker.kafka.auto_create import auto_create_topic
from rafka.broker.kafka.context import NO_RESPONSE, RequestContext
from rafka.broker.kafka.request_order import release_turn
from rafka.broker.kafka.shape import get
from rafka.broker.replica.types import AppendResult
from rafka.netproto.errors import ErrorCode, RafkaError

API_KEY = 0
MIN_VERSION = 3
MAX_VERSION = 9

# A client may ask to wait for acks=all at most this long (Kafka clients
# default to 30 s; a longer wait holds the connection's responder).
produce_timeout_ms_max = 300_000

log = structlog.get_logger("rafka.kafka")


def _timeout_ms(request) -> int:
    t = request.timeout
    ms = int(t.total_seconds() * 1000) if isinstance(t, datetime.timedelta) else int(t)
    return max(0, min(ms, produce_timeout_ms_max))


def _append_time(ms: int):
    if ms < 0:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)


def partition_answer(index: int, result: AppendResult | RafkaError) -> dict:
    if isinstance(result, RafkaError):
        return {"index": index, "error_code": int(result.code), "base_offset": -1, "log_append_time": None,
                "log_start_offset": -1, "record_errors": (), "error_message": result.message}
    return {"index": index, "error_code": 0, "base_offset": result.base_offset,
            "log_append_time": _append_time(result.log_append_time_ms),
            "log_start_offset": result.log_start_offset, "record_errors": (), "error_message": None}


async def _unknown_topics(ctx: RequestContext, names) -> dict[str, RafkaError]:
    """The refusal of each topic the image does not know, creating it on
    the way when auto-creation is on."""
    out: dict[str, RafkaError] = {}
    for name in dict.fromkeys(names):
        if ctx.broker.image.topic(name) is not None:
            continue
        if not ctx.broker.config.auto_create_topics:
            out[name] = RafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name} does not exist")
            continue
        try:
            validate_topic_name(name)
        except RafkaError as exc:
            out[name] = RafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, exc.message)
            continue
        code = ErrorCode(await auto_create_topic(ctx, name))
        out[name] = RafkaError(code, f"topic {name} is being created; retry")
    return out


async def handle(ctx: RequestContext, request):
    replicas = getattr(ctx.broker, "replicas", None)
    acks = int(request.acks)
    timeout_s = _timeout_ms(request) / 1000
    transactional = get(request, "transactional_id") is not None
    items = [(t.name, p.index, p.records) for t in request.topic_data for p in t.partition_data]
    unknown = {} if transactional else await _unknown_topics(ctx, (t.name for t in request.topic_data))
    results: list[AppendResult | RafkaError | None] = [None] * len(items)
    ordered_left = [len(items)]  # partitions whose append (or refusal) is still to come

    def ordered_part_done() -> None:
        # Once every batch of this request is appended (or refused), the
        # next request on the connection may start (request_order.py).
        ordered_left[0] -= 1
        if ordered_left[0] == 0:
            release_turn()

    async def one(i: int, topic: str, partition: int, records) -> None:
        done = [False]

        def appended() -> None:
            if not done[0]:
                done[0] = True
                ordered_part_done()

        try:
            if transactional:
                raise RafkaError(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                                 "transactions are not supported by this broker")
            if topic in unknown:
                raise unknown[topic]
            if replicas is None:
                raise RafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, "this node hosts no partitions")
            results[i] = await replicas.append(topic, partition, bytes(records or b""), acks=acks,
                                               timeout_s=timeout_s, on_appended=appended)
        except RafkaError as exc:
            results[i] = exc
            log.info("kafka.produce_refused", node_id=ctx.broker.node_id, topic=topic, partition=partition,
                     error=exc.code.name, message=exc.message, acks=acks)
        finally:
            appended()

    if len(items) == 1:
        await one(0, *items[0])
    else:
        async with trio.open_nursery() as nursery:
            for i, item in enumerate(items):
                nursery.start_soon(one, i, *item)
    if acks == 0:
        return NO_RESPONSE
    responses = []
    i = 0
    for t in request.topic_data:
        parts = []
        for p in t.partition_data:
            parts.append(partition_answer(p.index, results[i]))
            i += 1
        responses.append({"name": t.name, "partition_responses": parts})
    return {"responses": responses, "throttle_time": 0}
