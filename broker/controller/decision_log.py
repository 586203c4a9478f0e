"""What the controller decided and why, as log events (one per line).

Why: after a failure a person reads the active controller's log to learn
which brokers were fenced or unfenced and why, which topics came and went,
and how every partition's leader and ISR moved. The records say *what*
changed only in ids and deltas; this module turns one decision (the image it
read, the records it emitted, the reason) into readable events:

    controller.broker_fenced      broker=2 reason="session timed out (...)"
    controller.partition_changed  partition=orders-1 leader=2->3
                                  leader_epoch=1 isr=[2,3,1]->[3,1]
                                  reason="broker 2 fenced: ..."
    controller.topic_created      topic=orders partitions=3 ...

Every event carries node_id and the controller's Raft term. Bounded: a
decision changing many partitions (a fence of a broker holding 500) logs
the first `partitions_logged_max` changes at info, the rest at debug, and
one `controller.partition_changes` summary line with the total.

Pure apart from the logger: reads the image (never mutates it) and the
records; no clock, no I/O of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from rafka.broker.metadata.image import MetadataImage, PartitionState
from rafka.broker.metadata.records import (
    LEADER_NO_CHANGE,
    LEADER_NONE,
    BrokerShutdownRecord,
    ConfigRecord,
    FenceBrokerRecord,
    PartitionChangeRecord,
    PartitionRecord,
    Record,
    RegisterBrokerRecord,
    RemoveTopicRecord,
    TopicRecord,
    UnfenceBrokerRecord,
)

PARTITIONS_LOGGED_MAX = 20


def fmt_ids(ids) -> str:
    """`[3,1]`: compact, the order kept (ISR and replica order matter)."""
    return "[" + ",".join(str(i) for i in ids) + "]"


def fmt_leader(leader: int | None) -> str:
    return "none" if leader is None else str(leader)


def fmt_change(old: str, new: str) -> str:
    return new if old == new else f"{old}->{new}"


class _Batch:
    """The image as the batch's records change it, for names and old
    values (only what logging needs; the image itself is untouched)."""

    def __init__(self, image: MetadataImage) -> None:
        self.image = image
        self.names: dict[str, str] = {}  # topic_id -> name of topics created in this batch
        self.partitions: dict[tuple[str, int], PartitionState] = {}

    def topic_name(self, topic_id: str) -> str:
        t = self.image.topics_by_id.get(topic_id)
        return t.name if t is not None else self.names.get(topic_id, topic_id)

    def partition(self, topic_id: str, partition: int) -> PartitionState | None:
        s = self.partitions.get((topic_id, partition))
        return s if s is not None else self.image.partition(topic_id, partition)


def log_decision(
    log,
    image: MetadataImage,
    records: list[Record],
    *,
    node_id: int,
    term: int | None,
    reason: str,
    broker_reasons: Mapping[int, str] | None = None,
    partitions_logged_max: int = PARTITIONS_LOGGED_MAX,
) -> None:
    """Log one decision: `records` as decided on `image` (before they are
    applied) for `reason`. `broker_reasons` overrides the reason of the
    broker records of given node ids (e.g. each fenced broker's own last
    heartbeat)."""
    if not records:
        return
    ctx = {"node_id": node_id, "term": term}
    batch = _Batch(image)
    broker_reasons = broker_reasons or {}
    new_topics: dict[str, dict] = {}  # name -> topic_created fields, logged at the end
    added: dict[str, list[int]] = {}  # existing topic name -> new partition numbers
    changed = 0
    # Broker events first (the cause), then what they did to topics and
    # partitions, whatever the records' order in the entry.
    for rec in records:
        if isinstance(rec, _BROKER_RECORDS):
            _log_broker_record(log, image, rec, ctx, broker_reasons.get(rec.node_id, reason))
    for rec in records:
        if isinstance(rec, _BROKER_RECORDS):
            continue
        if isinstance(rec, PartitionChangeRecord):
            changed += 1
            _log_partition_change(log, batch, rec, ctx, reason, info=changed <= partitions_logged_max)
        elif isinstance(rec, PartitionRecord):
            name = batch.topic_name(rec.topic_id)
            if name in new_topics:
                info = new_topics[name]
                info["partitions"] += 1
                info["replication_factor"] = len(rec.replicas)
            else:
                added.setdefault(name, []).append(rec.partition)
            log.debug("controller.partition_assigned", **ctx, partition=f"{name}-{rec.partition}",
                      replicas=fmt_ids(rec.replicas), leader=fmt_leader(rec.leader), reason=reason)
        elif isinstance(rec, TopicRecord):
            batch.names[rec.topic_id] = rec.name
            new_topics[rec.name] = {"topic_id": rec.topic_id, "partitions": 0, "replication_factor": 0,
                                    "configs": {}}
        elif isinstance(rec, ConfigRecord):
            if rec.topic in new_topics:
                new_topics[rec.topic]["configs"][rec.key] = rec.value
            else:
                t = image.topic(rec.topic)
                old = None if t is None else t.configs.get(rec.key)
                log.info("controller.topic_config_altered", **ctx, topic=rec.topic, key=rec.key,
                         value=fmt_change(str(old), str(rec.value)), reason=reason)
        elif isinstance(rec, RemoveTopicRecord):
            t = image.topics_by_id.get(rec.topic_id)
            log.info("controller.topic_deleted", **ctx, topic=batch.topic_name(rec.topic_id),
                     topic_id=rec.topic_id, partitions=0 if t is None else len(t.partitions), reason=reason)
        else:
            log.info("controller.record", **ctx, type=type(rec).__name__, reason=reason)
    for name, info in new_topics.items():
        log.info("controller.topic_created", **ctx, topic=name, **info, reason=reason)
    for name, parts in added.items():
        t = image.topic(name)
        before = 0 if t is None else len(t.partitions)
        log.info("controller.partitions_added", **ctx, topic=name,
                 partitions=f"{before}->{before + len(parts)}", reason=reason)
    if changed > partitions_logged_max:
        log.info("controller.partition_changes", **ctx, changed=changed, logged=partitions_logged_max,
                 more_at_debug=changed - partitions_logged_max, reason=reason)


_BROKER_RECORDS = (RegisterBrokerRecord, FenceBrokerRecord, UnfenceBrokerRecord, BrokerShutdownRecord)


def _log_broker_record(log, image: MetadataImage, rec: Record, ctx: dict, reason: str) -> None:
    if isinstance(rec, RegisterBrokerRecord):
        old = image.brokers.get(rec.node_id)
        log.info("controller.broker_registered", **ctx, broker=rec.node_id, broker_epoch=rec.broker_epoch,
                 address=f"{rec.host}:{rec.port}", rack=rec.rack, incarnation_id=rec.incarnation_id,
                 replaced_broker_epoch=None if old is None else old.broker_epoch, fenced=rec.fenced,
                 reason=reason)
    elif isinstance(rec, FenceBrokerRecord):
        log.info("controller.broker_fenced", **ctx, broker=rec.node_id, broker_epoch=rec.broker_epoch,
                 reason=reason)
    elif isinstance(rec, UnfenceBrokerRecord):
        log.info("controller.broker_unfenced", **ctx, broker=rec.node_id, broker_epoch=rec.broker_epoch,
                 reason=reason)
    else:
        log.info("controller.broker_shutting_down", **ctx, broker=rec.node_id,
                 broker_epoch=rec.broker_epoch, reason=reason)


def _log_partition_change(log, batch: _Batch, rec: PartitionChangeRecord, ctx: dict, reason: str,
                          *, info: bool) -> None:
    old = batch.partition(rec.topic_id, rec.partition)
    name = f"{batch.topic_name(rec.topic_id)}-{rec.partition}"
    if old is None:  # cannot happen for a valid decision; still say what was decided
        log.info("controller.partition_changed", **ctx, partition=name, leader=rec.leader,
                 isr=None if rec.isr is None else fmt_ids(rec.isr), reason=reason)
        return
    leader, leader_epoch = old.leader, old.leader_epoch
    if rec.leader != LEADER_NO_CHANGE:
        leader = None if rec.leader == LEADER_NONE else rec.leader
        leader_epoch += 1
    isr = old.isr if rec.isr is None else tuple(rec.isr)
    replicas = old.replicas if rec.replicas is None else tuple(rec.replicas)
    batch.partitions[(rec.topic_id, rec.partition)] = PartitionState(
        old.topic_id, old.partition, replicas, isr, leader, leader_epoch, old.partition_epoch + 1)
    fields = {
        "partition": name,
        "leader": fmt_change(fmt_leader(old.leader), fmt_leader(leader)),
        "leader_epoch": leader_epoch,
        "isr": fmt_change(fmt_ids(old.isr), fmt_ids(isr)),
    }
    if replicas != old.replicas:
        fields["replicas"] = fmt_change(fmt_ids(old.replicas), fmt_ids(replicas))
    emit = log.info if info else log.debug
    emit("controller.partition_changed", **ctx, **fields, reason=reason)
