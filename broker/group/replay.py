"""Rebuilding a coordinator's groups from its __consumer_offsets partition.

Pure: the shell replays the partition's group records in log order
(`load_group`), then calls `finish_load` once, when the partition's end is
reached. Why separate from coordinator.py: replay only sets state; it never
decides a rebalance, so it needs none of the protocol's rules.
"""

from __future__ import annotations

from rafka.broker.group.group import Group, GroupState as S
from rafka.broker.group.member import Member
from rafka.broker.group.records import GroupRecord


def load_group(groups: dict[str, Group], rec: GroupRecord) -> None:
    """Apply one group record: a tombstone deletes the group, anything else
    replaces its generation, protocol and members."""
    if rec.deleted:
        groups.pop(rec.group_id, None)
        return
    g = groups.get(rec.group_id) or Group(rec.group_id)
    groups[rec.group_id] = g
    g.protocol_type = rec.protocol_type
    g.generation_id = rec.generation_id
    g.protocol = rec.protocol
    g.leader = rec.leader
    g.state_timestamp_ms = rec.state_timestamp_ms
    g.members = {}
    g.static_members = {}
    for sm in rec.members:
        protocols = [(rec.protocol, sm.subscription)] if rec.protocol is not None else []
        g.add_member(Member(sm.member_id, sm.group_instance_id, sm.client_id, sm.client_host,
                            sm.rebalance_timeout_ms, sm.session_timeout_ms, rec.protocol_type or "",
                            protocols, assignment=sm.assignment))
    g.leader = rec.leader if rec.leader in g.members else next(iter(g.members), None)


def finish_load(groups: dict[str, Group], now_ms: int) -> None:
    """After replay: groups with members are Stable in their stored
    generation (members keep heartbeating to the new coordinator), sessions
    start now; the rest are Empty."""
    for g in groups.values():
        if g.members:
            g.state = S.STABLE
            for m in g.members.values():
                m.expires_at_ms = now_ms + m.session_timeout_ms
        else:
            g.state = S.EMPTY
