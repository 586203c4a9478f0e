"""Fetch (key 1), versions 4-12: consumer reads through the ReplicaManager's
one fetch path.

- Consumers only: whatever replica_id a Kafka client sends, it reads below
  the high watermark (followers replicate over the peer listener).
- Long polls: answered once `min_bytes` are readable or after `max_wait_ms`
  (capped at `fetch_wait_ms_max`), woken by appends and HW moves.
- read_uncommitted and read_committed are both served; with no
  transactions the last stable offset is the high watermark.
- Fetch sessions (KIP-227): no session is ever created. A full fetch
  (session_id 0, epoch -1 or 0) is answered with session_id 0, which tells
  the client to keep sending full fetches; any other session id gets
  FETCH_SESSION_ID_NOT_FOUND, a session id 0 with another epoch
  INVALID_FETCH_SESSION_EPOCH.
- v12 `last_fetched_epoch`: when the consumer's log diverged from the
  leader's (its last epoch ends before its fetch offset on the leader), the
  answer carries `diverging_epoch` and no records (KIP-320).
"""

from __future__ import annotations

import datetime

from kio.schema.errors import ErrorCode as KioErrorCode

from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.errors import KafkaApiError
from rafka.broker.kafka.shape import get
from rafka.broker.replica.types import FetchPartition, FetchResult
from rafka.netproto.errors import ErrorCode, RafkaError

API_KEY = 1
MIN_VERSION = 4
MAX_VERSION = 12

fetch_wait_ms_max = 30_000             # the longest long poll a client may ask for
fetch_response_bytes_max = 64 * 1024 * 1024  # caps a request's max_bytes


def _ms(value) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    return int(value)


def _check_session(ctx: RequestContext, request) -> None:
    if ctx.version < 7:
        return
    session_id = get(request, "session_id", 0)
    epoch = get(request, "session_epoch", -1)
    if session_id != 0:
        raise KafkaApiError(KioErrorCode.fetch_session_id_not_found,
                            f"fetch session {session_id} not found (this broker creates no sessions)")
    if epoch not in (-1, 0):
        raise KafkaApiError(KioErrorCode.invalid_fetch_session_epoch,
                            f"session epoch {epoch} without a session")


def _diverging(replicas, topic: str, fp) -> dict | None:
    """KIP-320: the leader's (epoch, end offset) when the consumer's last
    fetched epoch ends before its fetch offset here; None otherwise."""
    last_epoch = get(fp, "last_fetched_epoch", -1)
    if last_epoch < 0:
        return None
    try:
        epoch, end = replicas.offset_for_leader_epoch(topic, fp.partition, last_epoch,
                                                      get(fp, "current_leader_epoch", -1))
    except RafkaError:
        return None  # the read itself reports the error
    if epoch == last_epoch and end >= fp.fetch_offset:
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


async def handle(ctx: RequestContext, request) -> dict:
    _check_session(ctx, request)
    replicas = getattr(ctx.broker, "replicas", None)
    wanted = [(t.topic, fp) for t in request.topics for fp in t.partitions]
    diverging: dict[int, dict] = {}
    asks = []
    for i, (topic, fp) in enumerate(wanted):
        if replicas is not None:
            d = _diverging(replicas, topic, fp)
            if d is not None:
                diverging[i] = d
        asks.append(FetchPartition(topic, fp.partition, fp.fetch_offset, max(0, fp.partition_max_bytes),
                                   current_leader_epoch=get(fp, "current_leader_epoch", -1)))
    if replicas is None:
        results = [FetchResult(a.topic, a.partition, int(ErrorCode.NOT_LEADER_OR_FOLLOWER)) for a in asks]
    elif not asks:
        results = []
    else:
        max_bytes = min(max(0, get(request, "max_bytes", fetch_response_bytes_max)), fetch_response_bytes_max)
        max_wait_ms = 0 if diverging else min(max(0, _ms(request.max_wait)), fetch_wait_ms_max)
        results = await replicas.fetch(asks, max_wait_ms=max_wait_ms, min_bytes=max(0, request.min_bytes),
                                       max_bytes=max_bytes)
    responses: list[dict] = []
    for i, res in enumerate(results):
        topic = wanted[i][0]
        if not responses or responses[-1]["topic"] != topic:
            responses.append({"topic": topic, "partitions": []})
        responses[-1]["partitions"].append(partition_answer(res, diverging.get(i)))
    return {"throttle_time": 0, "error_code": 0, "session_id": 0, "responses": responses}
