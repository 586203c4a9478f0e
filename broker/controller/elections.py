"""Operator- and leader-driven partition changes: ElectLeaders (preferred or
unclean) and AlterPartition (a leader shrinking or expanding its ISR).

AlterPartition is the seam for the replica manager: the leader proposes a
new ISR quoting the leader and partition epochs it holds; a stale epoch is
refused so a deposed leader can never overwrite a newer decision. The new
ISR must contain the leader, be a subset of the replicas, and may only add
eligible (unfenced, not shutting down) brokers.
"""

from __future__ import annotations

from rafka.broker.controller.config import ControllerConfig
from rafka.broker.controller.leadership import (
    Eligibility,
    preferred_leader_changes,
    recompute,
)
from rafka.broker.controller.requests import (
    AlterPartitionRequest,
    AlterPartitionResponse,
    ElectionResult,
    ElectLeadersRequest,
    ElectLeadersResponse,
)
from rafka.broker.metadata.image import MetadataImage, PartitionState
from rafka.broker.metadata.records import LEADER_NO_CHANGE, PartitionChangeRecord, Record
from rafka.netproto.errors import ErrorCode, RafkaError

ELECTION_TYPES = ("preferred", "unclean")


def _result(topic: str, partition: int, code: ErrorCode = ErrorCode.NONE, msg: str | None = None):
    return ElectionResult(topic=topic, partition=partition, error_code=int(code), error_message=msg)


def _lookup(image: MetadataImage, topic: str, partition: int) -> PartitionState | None:
    t = image.topic(topic)
    if t is None or not 0 <= partition < len(t.partitions):
        return None
    return t.partitions[partition]


def _elect_one(image: MetadataImage, kind: str, s: PartitionState) -> tuple[ErrorCode, str | None, Record | None]:
    eligible = Eligibility(image)
    if kind == "preferred":
        pref = s.replicas[0]
        if s.leader == pref:
            return ErrorCode.ELECTION_NOT_NEEDED, "the preferred replica already leads", None
        if pref not in s.isr or not eligible(pref):
            return ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, f"replica {pref} is not eligible and in sync", None
        return ErrorCode.NONE, None, PartitionChangeRecord(s.topic_id, s.partition, leader=pref)
    if s.leader is not None:
        return ErrorCode.ELECTION_NOT_NEEDED, "the partition has a leader", None
    rec = recompute(image, s, eligible, rejoin=False, force_unclean=True)
    if rec is None or rec.leader == LEADER_NO_CHANGE:
        return ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, "no replica is eligible", None
    return ErrorCode.NONE, None, rec


def elect_leaders(
    image: MetadataImage, req: ElectLeadersRequest, config: ControllerConfig
) -> tuple[list[Record], ElectLeadersResponse]:
    if req.election_type not in ELECTION_TYPES:
        raise RafkaError(ErrorCode.INVALID_REQUEST, f"election_type must be one of {ELECTION_TYPES}")
    limit = config.elect_partitions_per_request_max
    records: list[Record] = []
    results = []
    if req.partitions is None:
        if req.election_type == "preferred":
            changes = preferred_leader_changes(image, limit=limit)
        else:
            changes = []
            for topic_id, p in sorted(image.leaderless()):
                code, _, rec = _elect_one(image, "unclean", image.partition(topic_id, p))
                if rec is not None:
                    changes.append(rec)
                    if len(changes) >= limit:
                        break
        for rec in changes:
            records.append(rec)
            results.append(_result(image.topics_by_id[rec.topic_id].name, rec.partition))
        return records, ElectLeadersResponse(results=results)
    if len(req.partitions) > limit:
        raise RafkaError(ErrorCode.INVALID_REQUEST, f"{len(req.partitions)} partitions, at most {limit}")
    seen = set()
    for tp in req.partitions:
        s = _lookup(image, tp.topic, tp.partition)
        if s is None:
            results.append(_result(tp.topic, tp.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                                   f"{tp.topic}-{tp.partition} does not exist"))
            continue
        if (tp.topic, tp.partition) in seen:
            results.append(_result(tp.topic, tp.partition, ErrorCode.INVALID_REQUEST, "named twice"))
            continue
        seen.add((tp.topic, tp.partition))
        code, msg, rec = _elect_one(image, req.election_type, s)
        results.append(_result(tp.topic, tp.partition, code, msg))
        if rec is not None:
            records.append(rec)
    return records, ElectLeadersResponse(results=results)


def alter_partition(
    image: MetadataImage, req: AlterPartitionRequest
) -> tuple[list[Record], AlterPartitionResponse]:
    b = image.brokers.get(req.node_id)
    if b is None or b.broker_epoch != req.broker_epoch:
        raise RafkaError(ErrorCode.STALE_BROKER_EPOCH, f"broker {req.node_id}: stale broker epoch")
    s = _lookup(image, req.topic, req.partition)
    if s is None:
        raise RafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"{req.topic}-{req.partition} does not exist")
    if s.leader != req.node_id:
        raise RafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, f"{req.topic}-{req.partition} is led by {s.leader}")
    if req.leader_epoch != s.leader_epoch:
        raise RafkaError(ErrorCode.FENCED_LEADER_EPOCH,
                         f"leader epoch {req.leader_epoch} is not the current {s.leader_epoch}")
    if req.partition_epoch != s.partition_epoch:
        # Kafka says INVALID_UPDATE_VERSION (108), which netproto lacks.
        raise RafkaError(ErrorCode.INVALID_REQUEST,
                         f"partition epoch {req.partition_epoch} is not the current {s.partition_epoch}")
    new_isr = list(req.new_isr)
    if len(set(new_isr)) != len(new_isr) or not set(new_isr) <= set(s.replicas):
        raise RafkaError(ErrorCode.INVALID_REQUEST, f"isr {new_isr} is not a subset of {list(s.replicas)}")
    if req.node_id not in new_isr:
        raise RafkaError(ErrorCode.INVALID_REQUEST, "the leader must stay in the isr")
    added = [x for x in new_isr if x not in s.isr]
    bad = [x for x in added if not image.is_eligible(x)]
    if bad:
        raise RafkaError(ErrorCode.INVALID_REQUEST, f"brokers {bad} are not eligible to join the isr")
    ordered = tuple(x for x in s.replicas if x in set(new_isr))
    if ordered == s.isr:
        return [], AlterPartitionResponse(s.leader, s.leader_epoch, list(s.isr), s.partition_epoch)
    rec = PartitionChangeRecord(s.topic_id, s.partition, isr=ordered)
    return [rec], AlterPartitionResponse(s.leader, s.leader_epoch, list(ordered), s.partition_epoch + 1)
