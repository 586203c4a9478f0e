"""InitProducerId (key 22), versions 0-4: a producer id for an idempotent
producer, from the broker's ProducerIdAllocator (blocks the active
controller allocates in the metadata log, so ids are unique cluster-wide).

- v3+ with a known producer id and epoch (KIP-360: a producer bumping its
  epoch after a sequence error): the same id with the next epoch, or a new
  id when the epoch is exhausted.
- A transactional id: transactions do not exist here, so the answer is
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which every client treats as
  fatal at once (a retriable code would leave it retrying forever).
"""

from __future__ import annotations

import structlog
import trio

from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get
from rafka.netproto.errors import ErrorCode, RafkaError

API_KEY = 22
MIN_VERSION = 0
MAX_VERSION = 4

EPOCH_MAX = 32767
ALLOCATE_TIMEOUT_S = 10.0

log = structlog.get_logger("rafka.kafka")


def _answer(code: int, producer_id: int = -1, epoch: int = -1) -> dict:
    return {"throttle_time": 0, "error_code": code, "producer_id": producer_id, "producer_epoch": epoch}


async def handle(ctx: RequestContext, request) -> dict:
    node_id = ctx.broker.node_id
    if get(request, "transactional_id") is not None:
        log.info("kafka.init_producer_id_refused", node_id=node_id, transactional_id=request.transactional_id,
                 reason="transactions are not supported")
        return _answer(int(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED))
    pid = get(request, "producer_id", -1)
    epoch = get(request, "producer_epoch", -1)
    if pid >= 0 and 0 <= epoch < EPOCH_MAX - 1:
        return _answer(0, pid, epoch + 1)
    allocator = getattr(ctx.broker, "producer_ids", None)
    if allocator is None:
        return _answer(int(ErrorCode.COORDINATOR_NOT_AVAILABLE))
    try:
        with trio.fail_after(ALLOCATE_TIMEOUT_S):
            new_pid = await allocator.next_id()
    except (RafkaError, trio.TooSlowError, OSError) as exc:
        # Retriable for the client: the controller may be moving.
        log.info("kafka.init_producer_id_failed", node_id=node_id, error=repr(exc))
        return _answer(int(ErrorCode.COORDINATOR_NOT_AVAILABLE))
    return _answer(0, new_pid, 0)
