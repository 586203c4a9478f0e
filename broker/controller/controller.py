"""The controller's decision surface: one object the node drives.

`Controller.handle(image, request, now_ms)` and `Controller.tick(image,
now_ms)` return the records to append (one Raft entry, atomically) and the
response; they never mutate the image. The node's driver proposes the
records and answers the client once they are committed.

Contract with the driver (the controller is pure, so the driver owns it):
- Call `activate(image, now_ms)` when this node becomes Raft leader and
  `deactivate()` the moment it stops; while inactive every decision raises
  NOT_CONTROLLER (read-only requests still work).
- Every decision must read an image that already holds every record the
  controller emitted before (KRaft applies its own records before commit).
  Either run one decision at a time and wait until its entry is applied, or
  apply the records at once to a speculative `image.clone()` and, on losing
  leadership, drop it and re-clone from the committed image.
- Time is the driver's clock (trio's, so tests can mock it); randomness is
  the injected `rng` (topic ids only).

Every decision that emits records is logged with its reason and the Raft
term it was made in (broker/controller/decision_log.py); rejected items of
topic requests are logged too, so the log tells what was decided and why.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Iterable

import structlog

from rafka.broker.controller import brokers, describe, elections, producer_ids, topics
from rafka.broker.controller import requests as rq
from rafka.broker.controller.config import ControllerConfig
from rafka.broker.controller.decision_log import log_decision
from rafka.broker.controller.reasons import log_rejected_items, request_reason
from rafka.broker.controller.leadership import leaderless_changes, preferred_leader_changes
from rafka.broker.metadata.image import MetadataImage
from rafka.broker.metadata.records import Record
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.schema import Message

log = structlog.get_logger("rafka.controller")


@dataclass
class Decision:
    """Records to append in one entry (maybe none) and the reply to send
    once they are committed."""

    records: list[Record] = field(default_factory=list)
    response: Message | None = None


class Controller:
    def __init__(
        self, node_id: int, config: ControllerConfig | None = None, rng: random.Random | None = None
    ) -> None:
        self.node_id = node_id
        self.config = config or ControllerConfig()
        self.rng = rng if rng is not None else random.Random(node_id)
        self.sessions = self._new_sessions()
        self.active = False
        self.term: int | None = None  # the Raft term this controller decides in (for logs)
        self._next_preferred_ms = 0
        self._leaderless_checked_offset: int | None = None

    def _new_sessions(self) -> brokers.BrokerSessions:
        return brokers.BrokerSessions(self.config.session_timeout_ms, self.config.session_lost_grace_ms)

    # ------------------------------------------------------------ lifecycle
    def activate(self, image: MetadataImage, now_ms: int, term: int | None = None,
                 disconnected: Iterable[int] = ()) -> None:
        """Start deciding. `disconnected`: brokers the driver knows have no
        open peer connection (their last one closed by the peer); each gets
        the lost-connection grace from now."""
        disconnected = sorted(disconnected)
        self.sessions.activate(image, now_ms, disconnected)
        self.active = True
        self.term = term
        self._next_preferred_ms = now_ms + self.config.preferred_election_interval_ms
        self._leaderless_checked_offset = None
        fenced = sorted(b.node_id for b in image.brokers.values() if b.fenced)
        # offset None: the image holds no metadata record yet (a new cluster).
        log.info("controller.activated", node_id=self.node_id, term=term,
                 metadata_offset=image.offset if image.offset >= 0 else None,
                 brokers=len(image.brokers), fenced_brokers=fenced, topics=len(image.topics_by_name),
                 partitions=image.partition_count, leaderless_partitions=image.leaderless_count,
                 session_timeout_ms=self.config.session_timeout_ms,
                 session_lost_grace_ms=self.config.session_lost_grace_ms,
                 disconnected_brokers=[n for n in disconnected if self.sessions.lost_at_ms(n) is not None])

    def deactivate(self) -> None:
        if self.active:
            log.info("controller.deactivated", node_id=self.node_id, term=self.term)
        self.active = False
        self.term = None
        self.sessions = self._new_sessions()

    def broker_connection_lost(self, image: MetadataImage, node_id: int, now_ms: int) -> bool:
        """The driver saw the last peer connection of `node_id` closed by
        the peer (EOF/RST: a killed process closes its sockets at once). The
        broker is fenced `session_lost_grace_ms` later unless a heartbeat of
        its current broker epoch arrives first. No records: the fence is a
        later tick's decision. True when a grace period started."""
        if not self.active:
            return False
        started = self.sessions.connection_lost(image, node_id, now_ms)
        if started:
            b = image.brokers[node_id]
            last = self.sessions.last_contact_ms(node_id)
            log.info("controller.broker_connection_lost", node_id=self.node_id, term=self.term,
                     broker=node_id, broker_epoch=b.broker_epoch,
                     last_heartbeat_ms_ago=None if last is None else now_ms - last,
                     session_lost_grace_ms=self.config.session_lost_grace_ms)
        return started

    def _log(self, image: MetadataImage, records: list[Record], reason: str,
             broker_reasons: dict[int, str] | None = None) -> None:
        log_decision(log, image, records, node_id=self.node_id, term=self.term, reason=reason,
                     broker_reasons=broker_reasons,
                     partitions_logged_max=self.config.decision_log_partitions_max)

    def _require_active(self) -> None:
        if not self.active:
            raise RafkaError(ErrorCode.NOT_CONTROLLER, f"node {self.node_id} is not the active controller")

    # ------------------------------------------------------------- requests
    def handle(self, image: MetadataImage, req: Message, now_ms: int, reason: str | None = None) -> Decision:
        """Decide on one request. Raises RafkaError for whole-request errors
        (NOT_CONTROLLER, STALE_BROKER_EPOCH, ...). `reason` overrides the
        logged reason (e.g. the driver's own prompt preferred election)."""
        if isinstance(req, rq.DescribeTopicRequest):
            return Decision([], describe.describe_topic(image, req))
        if isinstance(req, rq.ListTopicsRequest):
            return Decision([], describe.list_topics(image))
        if isinstance(req, rq.ListBrokersRequest):
            sessions = self.sessions if self.active else None
            return Decision([], describe.list_brokers(image, sessions, now_ms))
        self._require_active()
        cfg = self.config
        if isinstance(req, rq.BrokerHeartbeatRequest):
            records, resp = brokers.heartbeat(image, req, self.sessions, now_ms, cfg)
        elif isinstance(req, rq.BrokerRegistrationRequest):
            records, resp = brokers.register_broker(image, req, self.sessions, now_ms)
        elif isinstance(req, rq.CreateTopicsRequest):
            records, resp = topics.create_topics(image, req, cfg, self.rng)
        elif isinstance(req, rq.DeleteTopicsRequest):
            records, resp = topics.delete_topics(image, req, cfg)
        elif isinstance(req, rq.CreatePartitionsRequest):
            records, resp = topics.create_partitions(image, req, cfg)
        elif isinstance(req, rq.AlterConfigsRequest):
            records, resp = topics.alter_configs(image, req, cfg)
        elif isinstance(req, rq.ControlledShutdownRequest):
            records, resp = brokers.controlled_shutdown(image, req, self.sessions)
        elif isinstance(req, rq.ElectLeadersRequest):
            records, resp = elections.elect_leaders(image, req, cfg)
        elif isinstance(req, rq.AlterPartitionRequest):
            records, resp = elections.alter_partition(image, req)
        elif isinstance(req, rq.AllocateProducerIdsRequest):
            records, resp = producer_ids.allocate_producer_ids(image, req)
        else:
            raise RafkaError(ErrorCode.INVALID_REQUEST, f"the controller does not serve {req.TYPE}")
        if records:
            why = reason or request_reason(image, req, records)
            self._log(image, records, why)
            log.debug("controller.decided", node_id=self.node_id, term=self.term, request=req.TYPE,
                      records=len(records), metadata_offset=image.offset)
        log_rejected_items(log, req, resp, node_id=self.node_id, term=self.term)
        return Decision(records, resp)

    # ----------------------------------------------------------------- tick
    def tick(self, image: MetadataImage, now_ms: int) -> list[Record]:
        """Periodic duties, at most one kind per call so the records never
        contradict each other: fence expired or lost sessions; else elect leaders
        for leaderless partitions that can have one; else, when due,
        preferred-leader election. Returns records for one entry."""
        if not self.active:
            return []
        why, records = brokers.fence_expired(image, self.sessions, now_ms)
        if records:
            ids = ",".join(str(n) for n in sorted(why))
            kinds = sorted({w.split(":", 1)[0] for w in why.values()})
            self._log(image, records, f"broker {ids} fenced: {' / '.join(kinds)}", broker_reasons=why)
            return records
        if image.leaderless_count and image.offset != self._leaderless_checked_offset:
            # Only a new record can make a leaderless partition electable.
            self._leaderless_checked_offset = image.offset
            changes = leaderless_changes(
                image,
                limit=self.config.leaderless_elections_per_tick_max,
                rejoin=self.config.rejoin_isr_on_unfence,
            )
            if changes:
                self._log(image, list(changes), "leaderless partition has an eligible ISR member again")
                return list(changes)
        if now_ms >= self._next_preferred_ms:
            self._next_preferred_ms = now_ms + self.config.preferred_election_interval_ms
            changes = preferred_leader_changes(
                image, limit=self.config.preferred_elections_per_tick_max
            ) if image.imbalanced_count else []
            if changes:
                self._log(image, list(changes), "periodic preferred leader election")
                return list(changes)
        return []
