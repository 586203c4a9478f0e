"""Broker lifecycle decisions: registration, heartbeats, session timeouts,
controlled shutdown.

Lifecycle of one node id:
  register (new incarnation -> new broker_epoch, starts FENCED)
  -> heartbeats; once caught up (metadata offset at or past its
     registration record and within `broker_caught_up_lag_max` of the
     image) -> UNFENCED (eligible to lead)
  -> no heartbeat for `session_timeout_ms` -> FENCED (leaderships move)
  -> or: its peer connections closed (EOF/RST: the process is gone) and no
     heartbeat of the same broker epoch within `session_lost_grace_ms`
     -> FENCED (a kill -9 is noticed in about a heartbeat interval, while a
     broker that is merely slow keeps its sockets and the full timeout)
  -> heartbeats again while caught up -> UNFENCED
  -> ControlledShutdown: leaderships move away, then FENCED and marked
     in_controlled_shutdown (never unfenced again by this incarnation).

A new incarnation replaces the old one at once (a node id has one data
directory, formatted with that id, so a second live process with the same
id is a configuration error rafka does not guard against); the old
incarnation's leaderships move in the same entry. A repeated registration of
the same incarnation is idempotent.

Heartbeat times live only in the controller's memory (`BrokerSessions`),
never in the log: a newly active controller starts every broker on a fresh
session (`activate`), so a failover never fences brokers that were healthy;
brokers the driver knows to be disconnected at that moment start with a
lost connection (the grace counted from activation).
"""

from __future__ import annotations

from typing import Iterable

from rafka.broker.controller.config import ControllerConfig
from rafka.broker.controller.leadership import fence_changes, unfence_changes
from rafka.broker.controller.requests import (
    BrokerHeartbeatRequest,
    BrokerHeartbeatResponse,
    BrokerRegistrationRequest,
    BrokerRegistrationResponse,
    ControlledShutdownRequest,
    ControlledShutdownResponse,
)
from rafka.broker.metadata.image import BrokerRegistration, MetadataImage
from rafka.broker.metadata.records import (
    LEADER_NONE,
    BrokerShutdownRecord,
    FenceBrokerRecord,
    Record,
    RegisterBrokerRecord,
    UnfenceBrokerRecord,
)
from rafka.netproto.errors import ErrorCode, RafkaError

HOST_LENGTH_MAX = 255
INCARNATION_LENGTH_MAX = 64
RACK_LENGTH_MAX = 255


class BrokerSessions:
    """Last-contact times (ms, the controller's clock) of live sessions, and
    the brokers whose peer connections were lost.

    Invariants: a broker is tracked iff the controller expects heartbeats
    from it; once the controller decides to fence it, it is dropped, so it
    is fenced once, and re-added by its next heartbeat. A lost-connection
    mark names the broker epoch it was taken for; any heartbeat or
    registration answered for the broker clears it, and a mark for another
    epoch (a new incarnation) or a fenced broker is void."""

    def __init__(self, session_timeout_ms: int, lost_grace_ms: int | None = None) -> None:
        self.session_timeout_ms = session_timeout_ms
        self.lost_grace_ms = min(session_timeout_ms, session_timeout_ms if lost_grace_ms is None else lost_grace_ms)
        self._last_contact_ms: dict[int, int] = {}
        # node_id -> (broker_epoch, lost_at_ms)
        self._lost: dict[int, tuple[int, int]] = {}

    def activate(self, image: MetadataImage, now_ms: int, disconnected: Iterable[int] = ()) -> None:
        """Becoming the active controller: every registered, unfenced
        broker starts a fresh session now; those in `disconnected` (no open
        peer connection, the last one lost) start with a lost connection."""
        self._last_contact_ms = {
            b.node_id: now_ms for b in image.brokers.values() if not b.fenced
        }
        self._lost = {}
        for node_id in disconnected:
            self.connection_lost(image, node_id, now_ms)

    def touch(self, node_id: int, now_ms: int) -> None:
        self._last_contact_ms[node_id] = now_ms
        self._lost.pop(node_id, None)

    def forget(self, node_id: int) -> None:
        self._last_contact_ms.pop(node_id, None)
        self._lost.pop(node_id, None)

    def last_contact_ms(self, node_id: int) -> int | None:
        return self._last_contact_ms.get(node_id)

    def lost_at_ms(self, node_id: int) -> int | None:
        mark = self._lost.get(node_id)
        return None if mark is None else mark[1]

    def connection_lost(self, image: MetadataImage, node_id: int, now_ms: int) -> bool:
        """The driver saw the last peer connection of `node_id` closed by
        the peer. True when this starts a grace period (an unfenced broker
        with a live session, not already marked)."""
        b = image.brokers.get(node_id)
        if b is None or b.fenced or node_id not in self._last_contact_ms:
            return False
        mark = self._lost.get(node_id)
        if mark is not None and mark[0] == b.broker_epoch:
            return False
        self._lost[node_id] = (b.broker_epoch, now_ms)
        return True

    def expired(self, image: MetadataImage, now_ms: int) -> list[int]:
        """Unfenced brokers whose session ran out, by node id."""
        deadline = now_ms - self.session_timeout_ms
        out = []
        for node_id, last in self._last_contact_ms.items():
            if last <= deadline:
                b = image.brokers.get(node_id)
                if b is not None and not b.fenced:
                    out.append(node_id)
        return sorted(out)

    def lost(self, image: MetadataImage, now_ms: int) -> list[int]:
        """Unfenced brokers whose connection was lost at least
        `lost_grace_ms` ago with no heartbeat since, by node id; void
        marks are dropped."""
        deadline = now_ms - self.lost_grace_ms
        out = []
        for node_id, (epoch, lost_at) in list(self._lost.items()):
            b = image.brokers.get(node_id)
            if b is None or b.fenced or b.broker_epoch != epoch:
                del self._lost[node_id]
            elif lost_at <= deadline:
                out.append(node_id)
        return sorted(out)


def _current(image: MetadataImage, node_id: int, broker_epoch: int) -> BrokerRegistration:
    b = image.brokers.get(node_id)
    if b is None:
        raise RafkaError(ErrorCode.STALE_BROKER_EPOCH, f"broker {node_id} is not registered")
    if b.broker_epoch != broker_epoch:
        raise RafkaError(
            ErrorCode.STALE_BROKER_EPOCH,
            f"broker {node_id}: epoch {broker_epoch} is not the current {b.broker_epoch}",
        )
    return b


def _validate_registration(req: BrokerRegistrationRequest) -> None:
    problems = []
    if req.node_id < 0:
        problems.append(f"node_id {req.node_id} < 0")
    if not 0 < len(req.incarnation_id) <= INCARNATION_LENGTH_MAX:
        problems.append("incarnation_id must be 1..64 characters")
    if not 0 < len(req.host) <= HOST_LENGTH_MAX:
        problems.append("host must be 1..255 characters")
    if not 0 < req.port < 65536:
        problems.append(f"port {req.port} outside 1..65535")
    if req.rack is not None and not 0 < len(req.rack) <= RACK_LENGTH_MAX:
        problems.append("rack must be 1..255 characters")
    if problems:
        raise RafkaError(ErrorCode.INVALID_REQUEST, "; ".join(problems))


def register_broker(
    image: MetadataImage, req: BrokerRegistrationRequest, sessions: BrokerSessions, now_ms: int
) -> tuple[list[Record], BrokerRegistrationResponse]:
    _validate_registration(req)
    old = image.brokers.get(req.node_id)
    if old is not None and old.incarnation_id == req.incarnation_id:
        sessions.touch(req.node_id, now_ms)
        return [], BrokerRegistrationResponse(broker_epoch=old.broker_epoch)
    epoch = image.last_broker_epoch + 1
    records: list[Record] = []
    if old is not None:
        records.extend(fence_changes(image, {req.node_id}))
    records.append(
        RegisterBrokerRecord(req.node_id, req.incarnation_id, epoch, req.host, req.port, req.rack, True)
    )
    sessions.touch(req.node_id, now_ms)
    return records, BrokerRegistrationResponse(broker_epoch=epoch)


def is_caught_up(image: MetadataImage, b: BrokerRegistration, metadata_offset: int,
                 config: ControllerConfig) -> bool:
    return (
        metadata_offset >= b.registered_offset
        and image.offset - metadata_offset <= config.broker_caught_up_lag_max
    )


def heartbeat(
    image: MetadataImage,
    req: BrokerHeartbeatRequest,
    sessions: BrokerSessions,
    now_ms: int,
    config: ControllerConfig,
) -> tuple[list[Record], BrokerHeartbeatResponse]:
    b = _current(image, req.node_id, req.broker_epoch)
    caught_up = is_caught_up(image, b, req.metadata_offset, config)
    if b.in_controlled_shutdown:
        sessions.forget(req.node_id)
        return [], BrokerHeartbeatResponse(caught_up, b.fenced, should_shut_down=True)
    sessions.touch(req.node_id, now_ms)
    records: list[Record] = []
    fenced = b.fenced
    if req.want_fence and not b.fenced:
        records = fence_broker(image, [req.node_id])
        fenced = True
    elif b.fenced and caught_up and not req.want_fence:
        records = [UnfenceBrokerRecord(b.node_id, b.broker_epoch)]
        records.extend(unfence_changes(image, {b.node_id}, rejoin=config.rejoin_isr_on_unfence))
        fenced = False
    return records, BrokerHeartbeatResponse(caught_up, fenced)


def fence_broker(image: MetadataImage, node_ids: list[int]) -> list[Record]:
    """Fence `node_ids` together: partition changes first (leaderships move,
    ISRs shrink), then one FenceBrokerRecord each."""
    records: list[Record] = list(fence_changes(image, set(node_ids)))
    for node_id in sorted(node_ids):
        b = image.brokers[node_id]
        records.append(FenceBrokerRecord(node_id, b.broker_epoch))
    return records


def due_for_fencing(image: MetadataImage, sessions: BrokerSessions, now_ms: int) -> dict[int, str]:
    """Brokers to fence now, each with why: its session ran out, or its
    connection was lost and the grace passed with no heartbeat."""
    why: dict[int, str] = {}
    for node_id in sessions.expired(image, now_ms):
        ago = now_ms - (sessions.last_contact_ms(node_id) or 0)
        why[node_id] = (f"session timed out: last heartbeat {ago} ms ago "
                        f"(session_timeout_ms {sessions.session_timeout_ms})")
    for node_id in sessions.lost(image, now_ms):
        if node_id not in why:
            lost_ago = now_ms - (sessions.lost_at_ms(node_id) or 0)
            ago = now_ms - (sessions.last_contact_ms(node_id) or 0)
            why[node_id] = (f"session lost: its peer connections closed, no heartbeat in the {lost_ago} ms "
                            f"since (last {ago} ms ago; session_lost_grace_ms {sessions.lost_grace_ms})")
    return why


def fence_expired(
    image: MetadataImage, sessions: BrokerSessions, now_ms: int
) -> tuple[dict[int, str], list[Record]]:
    """Fence every broker whose session ran out or was lost (one atomic
    batch); returns why each was fenced, and the records."""
    due = due_for_fencing(image, sessions, now_ms)
    if not due:
        return {}, []
    for node_id in due:
        sessions.forget(node_id)
    return due, fence_broker(image, sorted(due))


def controlled_shutdown(
    image: MetadataImage, req: ControlledShutdownRequest, sessions: BrokerSessions
) -> tuple[list[Record], ControlledShutdownResponse]:
    b = _current(image, req.node_id, req.broker_epoch)
    if b.in_controlled_shutdown:
        return [], ControlledShutdownResponse()
    sessions.forget(req.node_id)
    changes = fence_changes(image, {req.node_id})
    led = image.partitions_led_by(req.node_id)
    leaderless = sum(
        1 for c in changes if c.leader == LEADER_NONE and (c.topic_id, c.partition) in led
    )
    records: list[Record] = [BrokerShutdownRecord(b.node_id, b.broker_epoch), *changes]
    if not b.fenced:
        records.append(FenceBrokerRecord(b.node_id, b.broker_epoch))
    return records, ControlledShutdownResponse(leaderless_partitions=leaderless)
