"""Fetch (key 1), versions 4-12: consumer reads through the ReplicaManager's
one fetch path.

- Consumers only: whatever replica_id a Kafka client sends, it reads below
  the high watermark (followers replicate over the peer listener).
- Long polls: answered once `min_bytes` are readable or after `max_wait_ms`
  (capped at `fetch_wait_ms_max`), woken by appends and HW moves.
- read_uncommitted and read_committed are both served; with no
  transactions the last stable offset is the high watermark.
- Fetch sessions (KIP-227, v7+): the broker's FetchSessionCache
  (broker/replica/fetch_sessions.py, `[replica] fetch_sessions_max`) serves
  sessionless full fetches (epoch -1: librdkafka), full fetches that open a
  session (epoch 0: the answer carries its id) and incremental fetches
  (added/updated partitions, `forgotten_topics_data` removed; the answer
  lists only partitions with records, an error or a moved high watermark or
  log start). A stale session id gets FETCH_SESSION_ID_NOT_FOUND, a wrong
  epoch INVALID_FETCH_SESSION_EPOCH (the client starts a new session).
- v12 `last_fetched_epoch`: when the consumer's log diverged from the
  leader's (its last epoch ends before its fetch offset on the leader), the
  answer carries `diverging_epoch` and no records (KIP-320).
"""

from __future__ import annotations

import datetime

import structlog
import trio

from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.errors import KafkaApiError, kafka_error
from rafka.broker.kafka.shape import get
from rafka.broker.replica.fetch_sessions import FetchSessionCache, FetchSessionError, PartitionAnswer, SessionPartition
from rafka.broker.replica.types import FetchPartition, FetchResult
from rafka.netproto.errors import ErrorCode, RafkaError

API_KEY = 1
MIN_VERSION = 4
MAX_VERSION = 12

fetch_wait_ms_max = 30_000             # the longest long poll a client may ask for
fetch_response_bytes_max = 64 * 1024 * 1024  # caps a request's max_bytes

log = structlog.get_logger("rafka.kafka")


def _ms(value) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    return int(value)


def _diverging(replicas, topic: str, partition: int, sp: SessionPartition) -> dict | None:
    """KIP-320: the leader's (epoch, end offset) when the consumer's last
    fetched epoch ends before its fetch offset here; None otherwise."""
    last_epoch = sp.last_fetched_epoch
    if last_epoch < 0:
        return None
    try:
        epoch, end = replicas.offset_for_leader_epoch(topic, partition, last_epoch, sp.current_leader_epoch)
    except RafkaError:
        return None  # the read itself reports the error
    if epoch == last_epoch and end >= sp.fetch_offset:
        return None
    return {"epoch": epoch, "end_offset": end}


def partition_answer(res: FetchResult, diverging: dict | None = None) -> dict:
    body = {
        "partition_index": res.partition,
        "error_code": res.error_code,
        "high_watermark": res.high_watermark,
        "last_stable_offset": res.high_watermark,
        "log_start_offset": res.log_start_offset,
        "aborted_transactions": (),
        "preferred_read_replica": -1,
        "records": res.records or b"",
    }
    if diverging is not None:
        body["diverging_epoch"] = diverging
        body["records"] = b""
    return body


def _session_cache(replicas) -> FetchSessionCache:
    cache = getattr(replicas, "fetch_sessions", None)
    return cache if cache is not None else FetchSessionCache(0)  # no broker cache: sessionless only


def _now_ms() -> int:
    return int(trio.current_time() * 1000)


async def handle(ctx: RequestContext, request) -> dict:
    replicas = getattr(ctx.broker, "replicas", None)
    sessions = _session_cache(replicas)
    wanted = [((t.topic, fp.partition), SessionPartition(
        fp.fetch_offset, max(0, fp.partition_max_bytes), current_leader_epoch=get(fp, "current_leader_epoch", -1),
        last_fetched_epoch=get(fp, "last_fetched_epoch", -1))) for t in request.topics for fp in t.partitions]
    if ctx.version >= 7:
        session_id, epoch = get(request, "session_id", 0), get(request, "session_epoch", -1)
        forgotten = [(t.topic, p) for t in (get(request, "forgotten_topics_data", ()) or ()) for p in t.partitions]
    else:
        session_id, epoch, forgotten = 0, -1, []
    try:
        fctx = sessions.new_context(session_id, epoch, wanted, forgotten, _now_ms())
    except FetchSessionError as exc:
        raise KafkaApiError(kafka_error(exc.code), exc.message) from None
    diverging: dict[int, dict] = {}
    asks = []
    for i, ((topic, partition), sp) in enumerate(fctx.partitions):
        if replicas is not None:
            d = _diverging(replicas, topic, partition, sp)
            if d is not None:
                diverging[i] = d
        asks.append(FetchPartition(topic, partition, sp.fetch_offset, sp.partition_max_bytes,
                                   current_leader_epoch=sp.current_leader_epoch))
    if replicas is None:
        results = [FetchResult(a.topic, a.partition, int(ErrorCode.NOT_LEADER_OR_FOLLOWER)) for a in asks]
    elif not asks:
        results = []
    else:
        max_bytes = min(max(0, get(request, "max_bytes", fetch_response_bytes_max)), fetch_response_bytes_max)
        max_wait_ms = 0 if diverging else min(max(0, _ms(request.max_wait)), fetch_wait_ms_max)
        results = await replicas.fetch(asks, max_wait_ms=max_wait_ms, min_bytes=max(0, request.min_bytes),
                                       max_bytes=max_bytes)
    answers = [PartitionAnswer(r.error_code, r.high_watermark, r.log_start_offset, bool(r.records), i in diverging)
               for i, r in enumerate(results)]
    session_id, include = sessions.complete(fctx, answers, _now_ms())
    for event, fields in fctx.events:
        log.info(f"kafka.{event}", node_id=ctx.broker.node_id, **fields)
    by_topic: dict[str, list[dict]] = {}
    for i, res in enumerate(results):
        if include[i]:
            by_topic.setdefault(res.topic, []).append(partition_answer(res, diverging.get(i)))
    responses = [{"topic": topic, "partitions": parts} for topic, parts in by_topic.items()]
    return {"throttle_time": 0, "error_code": 0, "session_id": session_id, "responses": responses}
