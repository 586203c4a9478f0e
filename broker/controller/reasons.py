"""Why the controller decided what it did, in words for its log.

`request_reason` names the cause of a request's records (read from the
image before they apply, so it can say what the broker's state was);
`log_rejected_items` logs the items of a topic/election request that were
refused, with their Kafka error, since a refusal is a decision too.
Pure apart from the logger.
"""

from __future__ import annotations

from rafka.broker.controller import requests as rq
from rafka.broker.metadata.image import MetadataImage
from rafka.broker.metadata.records import FenceBrokerRecord, Record, UnfenceBrokerRecord
from rafka.netproto.errors import ErrorCode
from rafka.netproto.schema import Message

# Rejected items of one request logged individually; the rest are counted.
REJECTED_ITEMS_LOGGED_MAX = 20


def request_reason(image: MetadataImage, req: Message, records: list[Record]) -> str:
    """A short cause for the records `req` produced on `image`."""
    if isinstance(req, rq.BrokerHeartbeatRequest):
        n = req.node_id
        if any(isinstance(r, FenceBrokerRecord) for r in records):
            return f"broker {n} fenced at its own request"
        if any(isinstance(r, UnfenceBrokerRecord) for r in records):
            b = image.brokers.get(n)
            registered = None if b is None else b.registered_offset
            return (f"broker {n} unfenced: caught up to metadata offset {req.metadata_offset} "
                    f"(registered at {registered}, controller at {image.offset})")
        return f"heartbeat of broker {n}"
    if isinstance(req, rq.BrokerRegistrationRequest):
        old = image.brokers.get(req.node_id)
        if old is None:
            return f"broker {req.node_id} registered (fenced until caught up)"
        return (f"broker {req.node_id} restarted: new incarnation {req.incarnation_id} "
                f"replaces broker_epoch {old.broker_epoch}")
    if isinstance(req, rq.ControlledShutdownRequest):
        return f"broker {req.node_id} controlled shutdown"
    if isinstance(req, rq.ElectLeadersRequest):
        return f"{req.election_type} leader election requested"
    if isinstance(req, rq.AlterPartitionRequest):
        t = image.topic(req.topic)
        s = None if t is None or not 0 <= req.partition < len(t.partitions) else t.partitions[req.partition]
        kind = "changed"
        if s is not None:
            kind = "shrank" if set(req.new_isr) < set(s.isr) else (
                "expanded" if set(req.new_isr) > set(s.isr) else "changed")
        return f"leader {req.node_id} {kind} the ISR (AlterPartition)"
    if isinstance(req, rq.CreateTopicsRequest):
        return "CreateTopics request"
    if isinstance(req, rq.DeleteTopicsRequest):
        return "DeleteTopics request"
    if isinstance(req, rq.CreatePartitionsRequest):
        return "CreatePartitions request"
    if isinstance(req, rq.AlterConfigsRequest):
        return "AlterConfigs request"
    return req.TYPE


def log_rejected_items(log, req: Message, resp: Message | None, *, node_id: int, term: int | None) -> None:
    """Log refused items of a per-item request (CreateTopics, DeleteTopics,
    CreatePartitions, AlterConfigs, ElectLeaders), bounded."""
    results = getattr(resp, "results", None)
    if not results:
        return
    rejected = [r for r in results if r.error_code]
    for r in rejected[:REJECTED_ITEMS_LOGGED_MAX]:
        try:
            error = ErrorCode(r.error_code).name
        except ValueError:
            error = str(r.error_code)
        where = (f"{r.topic}-{r.partition}" if isinstance(r, rq.ElectionResult) else r.name)
        log.info("controller.request_rejected", node_id=node_id, term=term, request=req.TYPE,
                 item=where, error=error, message=r.error_message)
    if len(rejected) > REJECTED_ITEMS_LOGGED_MAX:
        log.info("controller.requests_rejected", node_id=node_id, term=term, request=req.TYPE,
                 rejected=len(rejected), logged=REJECTED_ITEMS_LOGGED_MAX)
