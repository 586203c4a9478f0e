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
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import structlog

from broker.controller import brokers, describe, elections, topics
from broker.controller import requests as rq
from broker.controller.config import ControllerConfig
from broker.controller.leadership import leaderless_changes, preferred_leader_changes
from broker.metadata.image import MetadataImage
from broker.metadata.records import Record
from netproto.errors import ErrorCode, RafkaError
from netproto.schema import Message

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
        self.sessions = brokers.BrokerSessions(self.config.session_timeout_ms)
        self.active = False
        self._next_preferred_ms = 0
        self._leaderless_checked_offset: int | None = None

    # ------------------------------------------------------------ lifecycle
    def activate(self, image: MetadataImage, now_ms: int) -> None:
        self.sessions.activate(image, now_ms)
        self.active = True
        self._next_preferred_ms = now_ms + self.config.preferred_election_interval_ms
        self._leaderless_checked_offset = None
        log.info("controller.activated", node_id=self.node_id, offset=image.offset,
                 brokers=len(image.brokers))

    def deactivate(self) -> None:
        if self.active:
            log.info("controller.deactivated", node_id=self.node_id)
        self.active = False
        self.sessions = brokers.BrokerSessions(self.config.session_timeout_ms)

    def _require_active(self) -> None:
        if not self.active:
            raise RafkaError(ErrorCode.NOT_CONTROLLER, f"node {self.node_id} is not the active controller")

    # ------------------------------------------------------------- requests
    def handle(self, image: MetadataImage, req: Message, now_ms: int) -> Decision:
        """Decide on one request. Raises RafkaError for whole-request errors
        (NOT_CONTROLLER, STALE_BROKER_EPOCH, ...)."""
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
        else:
            raise RafkaError(ErrorCode.INVALID_REQUEST, f"the controller does not serve {req.TYPE}")
        if records:
            log.info("controller.decided", node_id=self.node_id, request=req.TYPE,
                     records=len(records), offset=image.offset)
        return Decision(records, resp)

    # ----------------------------------------------------------------- tick
    def tick(self, image: MetadataImage, now_ms: int) -> list[Record]:
        """Periodic duties, at most one kind per call so the records never
        contradict each other: fence expired sessions; else elect leaders
        for leaderless partitions that can have one; else, when due,
        preferred-leader election. Returns records for one entry."""
        if not self.active:
            return []
        expired, records = brokers.fence_expired(image, self.sessions, now_ms)
        if expired:
            log.warning("controller.session_expired", node_id=self.node_id, fenced=expired,
                        partition_changes=len(records) - len(expired), offset=image.offset)
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
                log.info("controller.leaderless_elected", node_id=self.node_id, partitions=len(changes))
                return list(changes)
        if now_ms >= self._next_preferred_ms:
            self._next_preferred_ms = now_ms + self.config.preferred_election_interval_ms
            changes = preferred_leader_changes(
                image, limit=self.config.preferred_elections_per_tick_max
            ) if image.imbalanced_count else []
            if changes:
                log.info("controller.preferred_elected", node_id=self.node_id, partitions=len(changes))
                return list(changes)
        return []
