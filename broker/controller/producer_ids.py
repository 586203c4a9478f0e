"""Producer id blocks for idempotent producers (KRaft's AllocateProducerIds).

A broker serving InitProducerId asks the active controller for a block of
`PRODUCER_ID_BLOCK_SIZE` ids; the controller commits a ProducerIdsRecord
moving `next_producer_id` past the block, so no id is handed out twice,
across controller failovers and broker restarts.
"""

from __future__ import annotations

from rafka.broker.controller.requests import AllocateProducerIdsRequest, AllocateProducerIdsResponse
from rafka.broker.metadata.image import MetadataImage
from rafka.broker.metadata.records import ProducerIdsRecord, Record
from rafka.netproto.errors import ErrorCode, RafkaError

PRODUCER_ID_BLOCK_SIZE = 1000
PRODUCER_ID_MAX = 2**63 - 1


def allocate_producer_ids(image: MetadataImage, req: AllocateProducerIdsRequest
                          ) -> tuple[list[Record], AllocateProducerIdsResponse]:
    b = image.brokers.get(req.node_id)
    if b is None or b.broker_epoch != req.broker_epoch:
        raise RafkaError(ErrorCode.STALE_BROKER_EPOCH, f"broker {req.node_id}: stale broker epoch")
    start = image.next_producer_id
    if start > PRODUCER_ID_MAX - PRODUCER_ID_BLOCK_SIZE:
        raise RafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, "producer ids exhausted")
    rec = ProducerIdsRecord(req.node_id, req.broker_epoch, start + PRODUCER_ID_BLOCK_SIZE)
    return [rec], AllocateProducerIdsResponse(start, PRODUCER_ID_BLOCK_SIZE)
