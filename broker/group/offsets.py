"""Committed offsets of the groups of one coordinator (pure): commit
validation (Kafka's rules), applying durable commits, fetch, deletion and
expiry after offsets.retention.

Commit validation:
- no group: generation -1 with no member id (a consumer that assigns its
  partitions itself, or an admin tool) creates an Empty group with no
  protocol type; anything else is ILLEGAL_GENERATION;
- a group: Dead -> COORDINATOR_NOT_AVAILABLE; a generation >= 0, a member
  id or an instance id -> the member must exist (FENCED_INSTANCE_ID /
  UNKNOWN_MEMBER_ID), the generation must match (ILLEGAL_GENERATION), and
  CompletingRebalance answers REBALANCE_IN_PROGRESS (Stable and
  PreparingRebalance accept: eager consumers commit before rejoining);
  generation -1 with no member: only an Empty group accepts it, else
  UNKNOWN_MEMBER_ID (the offsets belong to the active members).

Expiry: an Empty group with a protocol type loses all its offsets once
`state_timestamp + retention` passes (the time it became empty); a group
with no protocol type (offsets only) loses each offset `retention` after
its commit. An Empty group with no offsets left is deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rafka.broker.group.errors import GroupError, GroupErrorCode as E
from rafka.broker.group.group import CommittedOffset, Group, GroupState as S

if TYPE_CHECKING:
    from rafka.broker.group.coordinator import GroupCoordinatorCore


def validate_commit(core: GroupCoordinatorCore, now_ms: int, group_id: str, generation_id: int,
                    member_id: str, group_instance_id: str | None) -> Group:
    """The group a commit goes to; raises GroupError for the whole request."""
    if not group_id:
        raise GroupError(E.INVALID_GROUP_ID)
    g = core.group(group_id)
    if g is None:
        if generation_id < 0 and not member_id and group_instance_id is None:
            return core._get_or_create(group_id, now_ms)
        raise GroupError(E.ILLEGAL_GENERATION, f"group {group_id} does not exist")
    if generation_id >= 0 or member_id or group_instance_id is not None:
        err = core._check_member(g, member_id, group_instance_id)
        if err != E.NONE:
            raise GroupError(err)
        if generation_id != g.generation_id:
            raise GroupError(E.ILLEGAL_GENERATION,
                             f"generation {generation_id} is not the group's {g.generation_id}")
        if g.is_(S.COMPLETING_REBALANCE):
            raise GroupError(E.REBALANCE_IN_PROGRESS)
        m = g.members[member_id]
        m.expires_at_ms = now_ms + m.session_timeout_ms
        return g
    if not g.is_(S.EMPTY):
        raise GroupError(E.UNKNOWN_MEMBER_ID, f"group {group_id} has active members")
    return g


def check_partition(core: GroupCoordinatorCore, g: Group, metadata: str | None) -> E:
    if metadata is not None and len(metadata.encode()) > core.config.offset_metadata_bytes_max:
        return E.OFFSET_METADATA_TOO_LARGE
    return E.NONE


def total_offsets(core: GroupCoordinatorCore) -> int:
    return sum(len(g.offsets) for g in core.groups.values())


def apply_commit(g: Group, topic: str, partition: int, value: CommittedOffset | None) -> None:
    if value is None:
        g.offsets.pop((topic, partition), None)
    else:
        g.offsets[(topic, partition)] = value


def fetch(g: Group | None, topic: str, partition: int, require_stable: bool) -> tuple[CommittedOffset | None, E]:
    if g is None:
        return None, E.NONE
    if require_stable and g.pending_commits.get((topic, partition)):
        return None, E.UNSTABLE_OFFSET_COMMIT
    return g.offsets.get((topic, partition)), E.NONE


def expired(core: GroupCoordinatorCore, now_ms: int) -> list[tuple[str, str, int]]:
    """(group, topic, partition) of every offset past retention."""
    retention = core.config.offsets_retention_ms
    out = []
    for g in core.groups.values():
        if not g.is_(S.EMPTY):
            continue
        for (topic, partition), o in g.offsets.items():
            if g.pending_commits.get((topic, partition)):
                continue
            base = g.state_timestamp_ms if g.protocol_type else o.commit_timestamp_ms
            if now_ms >= base + retention:
                out.append((g.group_id, topic, partition))
    return out


def deletable(g: Group, topic: str) -> E:
    """OffsetDelete: an Empty group's offsets go; an active consumer group
    keeps the offsets of topics it subscribes to."""
    if g.is_(S.EMPTY):
        return E.NONE
    topics = g.subscribed_topics()
    if topics is None or topic in topics:
        return E.GROUP_SUBSCRIBED_TO_TOPIC
    return E.NONE
