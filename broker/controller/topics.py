"""Topic administration decisions: create, delete, add partitions, configs.

Each function reads the image and a request and returns (records, response)
without touching the image. Items are independent, like Kafka: a bad item
gets its error in the response and contributes no records; the records of
the good items are meant to be committed together in one Raft entry.
Items of one request see each other (two creations of the same name: the
second fails; partitions assigned for one topic count for the next).

Record order for a new topic: TopicRecord, its ConfigRecords (by key), then
its PartitionRecords 0..n-1 (every replica in the ISR, leader = preferred
replica, epochs 0).
"""

from __future__ import annotations

import base64
import random

from rafka.broker.controller.assignment import assign_replicas
from rafka.broker.controller.config import ControllerConfig
from rafka.broker.controller.requests import (
    AlterConfigsRequest,
    AlterConfigsResponse,
    CreatePartitionsRequest,
    CreatePartitionsResponse,
    CreateTopicsRequest,
    CreateTopicsResponse,
    DeleteTopicsRequest,
    DeleteTopicsResponse,
    TopicResult,
)
from rafka.broker.controller.validation import (
    check_topic_collision,
    collision_key,
    validate_configs,
    validate_partition_count,
    validate_replication_factor,
    validate_topic_name,
)
from rafka.broker.metadata.image import MetadataImage
from rafka.broker.metadata.records import (
    ConfigRecord,
    PartitionRecord,
    Record,
    RemoveTopicRecord,
    TopicRecord,
)
from rafka.netproto.errors import ErrorCode, RafkaError


def new_topic_id(rng: random.Random, taken) -> str:
    """A random 128-bit id, base64url without padding (Kafka's Uuid form);
    `taken(id)` says whether an id is already used."""
    while True:
        raw = rng.getrandbits(128).to_bytes(16, "big")
        topic_id = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        if raw != bytes(16) and not taken(topic_id):
            return topic_id


def _error(name: str, exc: RafkaError) -> TopicResult:
    return TopicResult(name=name, error_code=int(exc.code), error_message=exc.message)


def _check_request_size(count: int, config: ControllerConfig) -> None:
    if count > config.topics_per_request_max:
        raise RafkaError(
            ErrorCode.INVALID_REQUEST,
            f"{count} topics in one request, at most {config.topics_per_request_max}",
        )


class _Placement:
    """Replica placement state shared by the items of one request."""

    def __init__(self, image: MetadataImage, config: ControllerConfig) -> None:
        self.eligible = [(b.node_id, b.rack) for b in image.eligible_brokers()]
        self.start_index = image.partition_count
        self.total = image.partition_count
        self.load = {b: image.replica_count(b) for b, _ in self.eligible}
        self.config = config

    def check_total(self, more: int) -> None:
        if self.total + more > self.config.cluster_partitions_max:
            raise RafkaError(
                ErrorCode.INVALID_PARTITIONS,
                f"{more} more partitions would exceed the cluster limit "
                f"{self.config.cluster_partitions_max}",
            )

    def take(self, manual) -> None:
        """Count manually placed (replicas, isr) partitions in."""
        self.total += len(manual)
        for replicas, _ in manual:
            for b in replicas:
                if b in self.load:
                    self.load[b] += 1

    def assign(self, count: int, rf: int) -> list[tuple[int, ...]]:
        out = assign_replicas(self.eligible, count, rf, self.start_index, self.load)
        self.start_index += count
        self.total += count
        for replicas in out:
            for b in replicas:
                self.load[b] += 1
        return out


def create_topics(
    image: MetadataImage, req: CreateTopicsRequest, config: ControllerConfig, rng: random.Random
) -> tuple[list[Record], CreateTopicsResponse]:
    _check_request_size(len(req.topics), config)
    placement = _Placement(image, config)
    records: list[Record] = []
    results = []
    seen: set[str] = set()
    new_ids: set[str] = set()
    # Built once per request (O(topics)); names created by earlier items of
    # this request join it, so they collide with later ones too.
    by_key = {collision_key(n): n for n in image.topics_by_name}
    for t in req.topics:
        try:
            name = validate_topic_name(t.name)
            if name in seen:
                raise RafkaError(ErrorCode.INVALID_REQUEST, f"topic {name} named twice")
            seen.add(name)
            if image.topic(name) is not None:
                raise RafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name} already exists")
            check_topic_collision(name, by_key)
            manual = None
            if t.assignments is not None:
                manual = validate_assignments(t, image, config)
                count, rf = len(manual), len(manual[0])
            else:
                count = validate_partition_count(t.num_partitions, config.partitions_per_topic_max)
                rf = validate_replication_factor(
                    t.replication_factor, len(placement.eligible), config.replication_factor_max
                )
            configs = validate_configs(dict(t.configs), {}, rf)
            placement.check_total(count)
        except RafkaError as exc:
            results.append(_error(t.name, exc))
            continue
        by_key[collision_key(name)] = name
        topic_id = new_topic_id(rng, lambda i: i in image.topics_by_id or i in new_ids)
        new_ids.add(topic_id)
        results.append(TopicResult(name=name, topic_id=topic_id))
        if req.validate_only:
            continue
        records.append(TopicRecord(name, topic_id))
        records.extend(ConfigRecord(name, k, v) for k, v in configs.items() if v is not None)
        for p, replicas in enumerate(manual if manual is not None else placement.assign(count, rf)):
            records.append(PartitionRecord(topic_id, p, replicas, replicas, replicas[0], 0, 0))
    return records, CreateTopicsResponse(results=results)


def validate_assignments(t, image: MetadataImage, config: ControllerConfig) -> list[tuple[int, ...]]:
    """Manual replica lists: one per partition, all of one length, distinct
    brokers each, every broker registered (Kafka's rule); INVALID_REQUEST
    when a partition count or replication factor is given as well."""
    if t.num_partitions != -1 or t.replication_factor != -1:
        raise RafkaError(ErrorCode.INVALID_REQUEST,
                         "give either replica assignments or partitions and replication factor, not both")
    lists = [tuple(a) for a in t.assignments]
    validate_partition_count(len(lists), config.partitions_per_topic_max)
    rf = len(lists[0])
    for p, replicas in enumerate(lists):
        if len(replicas) != rf or rf < 1:
            raise RafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                             f"partition {p} has {len(replicas)} replicas, partition 0 has {rf}")
        if len(set(replicas)) != len(replicas):
            raise RafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, f"partition {p} repeats a broker: {replicas}")
        unknown = [b for b in replicas if b not in image.brokers]
        if unknown:
            raise RafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                             f"partition {p} names unregistered broker(s) {unknown}")
    if rf > config.replication_factor_max:
        raise RafkaError(ErrorCode.INVALID_REPLICATION_FACTOR,
                         f"replication factor {rf} above the limit {config.replication_factor_max}")
    return lists


def delete_topics(
    image: MetadataImage, req: DeleteTopicsRequest, config: ControllerConfig
) -> tuple[list[Record], DeleteTopicsResponse]:
    _check_request_size(len(req.names), config)
    records: list[Record] = []
    results = []
    done: set[str] = set()
    for name in req.names:
        t = image.topic(name)
        if t is None or name in done:
            exc = RafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name} does not exist")
            results.append(_error(name, exc))
            continue
        done.add(name)
        records.append(RemoveTopicRecord(t.topic_id))
        results.append(TopicResult(name=name, topic_id=t.topic_id))
    return records, DeleteTopicsResponse(results=results)


def create_partitions(
    image: MetadataImage, req: CreatePartitionsRequest, config: ControllerConfig
) -> tuple[list[Record], CreatePartitionsResponse]:
    _check_request_size(len(req.topics), config)
    placement = _Placement(image, config)
    records: list[Record] = []
    results = []
    seen: set[str] = set()
    for u in req.topics:
        try:
            t = image.topic(u.name)
            if t is None:
                raise RafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {u.name} does not exist")
            if u.name in seen:
                raise RafkaError(ErrorCode.INVALID_REQUEST, f"topic {u.name} named twice")
            seen.add(u.name)
            current = len(t.partitions)
            if type(u.count) is not int or u.count <= current:
                raise RafkaError(
                    ErrorCode.INVALID_PARTITIONS,
                    f"topic {u.name} has {current} partitions; the count can only grow (asked {u.count})",
                )
            validate_partition_count(u.count, config.partitions_per_topic_max)
            rf = len(t.partitions[0].replicas) if t.partitions else 1
            manual = None
            if u.assignments is not None:
                manual = validate_new_partition_assignments(u, current, rf, image)
            else:
                validate_replication_factor(rf, len(placement.eligible), config.replication_factor_max)
            placement.check_total(u.count - current)
        except RafkaError as exc:
            results.append(_error(u.name, exc))
            continue
        results.append(TopicResult(name=u.name, topic_id=t.topic_id))
        if req.validate_only:
            continue
        if manual is not None:
            placement.take(manual)
            for i, (replicas, isr) in enumerate(manual):
                records.append(PartitionRecord(t.topic_id, current + i, replicas, isr, isr[0], 0, 0))
            continue
        for i, replicas in enumerate(placement.assign(u.count - current, rf)):
            records.append(
                PartitionRecord(t.topic_id, current + i, replicas, replicas, replicas[0], 0, 0)
            )
    return records, CreatePartitionsResponse(results=results)


def validate_new_partition_assignments(
    u, current: int, rf: int, image: MetadataImage
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Manual replica lists for the new partitions of a CreatePartitions
    item (Kafka's rules): exactly one per new partition, each with the
    topic's replication factor, distinct and registered brokers, at least
    one of them eligible (unfenced, not shutting down). Returns
    (replicas, isr) per new partition: the ISR is the eligible replicas in
    assignment order (a fenced one joins through its leader's
    AlterPartition once caught up), the leader its first.
    INVALID_REPLICA_ASSIGNMENT with what was wrong otherwise."""
    bad = ErrorCode.INVALID_REPLICA_ASSIGNMENT
    more = u.count - current
    if len(u.assignments) != more:
        raise RafkaError(bad, f"topic {u.name}: adding {more} partition(s) needs {more} replica "
                              f"assignment(s), got {len(u.assignments)}")
    out = []
    for i, replicas in enumerate(u.assignments):
        p = current + i
        replicas = tuple(replicas)
        if any(type(b) is not int for b in replicas):
            raise RafkaError(bad, f"topic {u.name} partition {p}: broker ids must be integers: {list(replicas)}")
        if len(replicas) != rf:
            raise RafkaError(bad, f"topic {u.name} partition {p}: {len(replicas)} replica(s) given, "
                                  f"the topic's replication factor is {rf}")
        if len(set(replicas)) != len(replicas):
            raise RafkaError(bad, f"topic {u.name} partition {p}: a broker is named twice in {list(replicas)}")
        unknown = [b for b in replicas if b not in image.brokers]
        if unknown:
            raise RafkaError(bad, f"topic {u.name} partition {p}: no registered broker {unknown}")
        isr = tuple(b for b in replicas if image.brokers[b].eligible)
        if not isr:
            raise RafkaError(bad, f"topic {u.name} partition {p}: every broker of {list(replicas)} "
                                  "is fenced or shutting down")
        out.append((replicas, isr))
    return out


def alter_configs(
    image: MetadataImage, req: AlterConfigsRequest, config: ControllerConfig
) -> tuple[list[Record], AlterConfigsResponse]:
    _check_request_size(len(req.topics), config)
    records: list[Record] = []
    results = []
    seen: set[str] = set()
    for item in req.topics:
        try:
            t = image.topic(item.name)
            if t is None:
                raise RafkaError(
                    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {item.name} does not exist"
                )
            if item.name in seen:
                raise RafkaError(ErrorCode.INVALID_REQUEST, f"topic {item.name} named twice")
            seen.add(item.name)
            rf = min((len(s.replicas) for s in t.partitions), default=1)
            changes = validate_configs(dict(item.configs), t.configs, rf)
        except RafkaError as exc:
            results.append(_error(item.name, exc))
            continue
        results.append(TopicResult(name=item.name, topic_id=t.topic_id))
        if req.validate_only:
            continue
        for key, value in changes.items():
            if t.configs.get(key) != value:
                records.append(ConfigRecord(item.name, key, value))
    return records, AlterConfigsResponse(results=results)
