"""The pure group coordinator of one __consumer_offsets partition: Kafka's
classic protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup, the
member-id-required round, static members, rebalance and session timeouts).

No trio, no clock: every call takes `now_ms`. A JoinGroup or SyncGroup
that must wait is parked with the caller's `token` and answered later
through `outbox` (the shell delivers `(token, result)`). Group metadata to
persist is queued in `writes` as (group_id, generation, value-or-None,
completes_sync): the shell appends it acks=all and calls `store_done`;
only then does a leader's SyncGroup make the group Stable and answer every
member (Kafka's rule: assignments are durable before anyone sees them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from rafka.broker.group import offsets as offset_rules, replay
from rafka.broker.group.config import GroupConfig
from rafka.broker.group.errors import GroupError, GroupErrorCode as E
from rafka.broker.group.group import Group, GroupState as S
from rafka.broker.group.member import JoinResult, Member, MemberLeave, Outbox, SyncResult
from rafka.broker.group.records import GroupRecord, group_value


@dataclass(frozen=True)
class GroupWrite:
    group_id: str
    generation_id: int
    value: bytes | None          # None: tombstone
    completes_sync: bool


def _default_member_id(client_id: str) -> str:
    return f"{client_id}-{uuid.uuid4()}"


class GroupCoordinatorCore:
    def __init__(self, config: GroupConfig, *, new_member_id: Callable[[str], str] = _default_member_id,
                 log=None) -> None:
        self.config = config
        self.new_member_id = new_member_id
        self.groups: dict[str, Group] = {}
        self.outbox = Outbox()
        self.writes: list[GroupWrite] = []
        self.log = log if log is not None else structlog.get_logger("rafka.group")

    # ------------------------------------------------------------ helpers
    def group(self, group_id: str) -> Group | None:
        g = self.groups.get(group_id)
        return None if g is None or g.is_(S.DEAD) else g

    def _get_or_create(self, group_id: str, now_ms: int) -> Group:
        g = self.group(group_id)
        if g is None:
            if len(self.groups) >= self.config.groups_max:
                raise GroupError(E.COORDINATOR_NOT_AVAILABLE,
                                 f"this coordinator holds groups_max={self.config.groups_max} groups")
            g = Group(group_id, state_timestamp_ms=now_ms)
            self.groups[group_id] = g
        return g

    def _store(self, g: Group, completes_sync: bool = False) -> None:
        self.writes.append(GroupWrite(g.group_id, g.generation_id, group_value(g), completes_sync))

    def take_writes(self) -> list[GroupWrite]:
        out, self.writes = self.writes, []
        return out

    def _event(self, event: str, g: Group, **kw) -> None:
        self.log.info(event, group=g.group_id, generation=g.generation_id, state=g.state.value, **kw)

    # --------------------------------------------------------------- join
    def join(self, now_ms: int, *, group_id: str, member_id: str, group_instance_id: str | None,
             client_id: str, client_host: str, session_timeout_ms: int, rebalance_timeout_ms: int,
             protocol_type: str, protocols: list[tuple[str, bytes]], require_known_member_id: bool,
             token) -> JoinResult | None:
        """A JoinGroup. Returns the answer now, or None when it is parked
        (answered through the outbox when the join phase completes)."""
        if not group_id:
            return JoinResult(E.INVALID_GROUP_ID, member_id)
        if not self.config.session_timeout_min_ms <= session_timeout_ms <= self.config.session_timeout_max_ms:
            return JoinResult(E.INVALID_SESSION_TIMEOUT, member_id)
        if rebalance_timeout_ms < 0:
            rebalance_timeout_ms = session_timeout_ms  # v0: no rebalance timeout field
        g = self.group(group_id)
        if g is None:
            if member_id:
                return JoinResult(E.UNKNOWN_MEMBER_ID, member_id)
            try:
                g = self._get_or_create(group_id, now_ms)
            except GroupError as exc:
                return JoinResult(exc.code, member_id)
        if not g.supports(protocol_type, protocols):
            return JoinResult(E.INCONSISTENT_GROUP_PROTOCOL, member_id)
        args = dict(client_id=client_id, client_host=client_host, session_timeout_ms=session_timeout_ms,
                    rebalance_timeout_ms=rebalance_timeout_ms, protocol_type=protocol_type,
                    protocols=list(protocols), token=token)
        if not member_id:
            return self._join_unknown(now_ms, g, group_instance_id, require_known_member_id, **args)
        return self._join_known(now_ms, g, member_id, group_instance_id, **args)

    def _join_unknown(self, now_ms: int, g: Group, instance_id: str | None, require_known: bool, **args):
        if instance_id is not None and instance_id in g.static_members:
            return self._rejoin_static(now_ms, g, instance_id, **args)
        if len(g.members) + len(g.pending_members) >= self.config.members_max:
            return JoinResult(E.GROUP_MAX_SIZE_REACHED, "")
        new_id = self.new_member_id(args["client_id"])
        if instance_id is None and require_known:
            if len(g.pending_members) >= self.config.pending_members_max:
                return JoinResult(E.GROUP_MAX_SIZE_REACHED, "")
            g.pending_members[new_id] = now_ms + args["session_timeout_ms"]
            self._event("group.member_id_required", g, member=new_id)
            return JoinResult(E.MEMBER_ID_REQUIRED, new_id)
        return self._add_and_rebalance(now_ms, g, new_id, instance_id, **args)

    def _add_and_rebalance(self, now_ms: int, g: Group, member_id: str, instance_id: str | None, *,
                           client_id, client_host, session_timeout_ms, rebalance_timeout_ms, protocol_type,
                           protocols, token):
        m = Member(member_id, instance_id, client_id, client_host, rebalance_timeout_ms, session_timeout_ms,
                   protocol_type, protocols, expires_at_ms=now_ms + session_timeout_ms, join_token=token,
                   is_new=True)
        g.pending_members.pop(member_id, None)
        was_empty = g.is_(S.EMPTY)
        g.add_member(m)
        self._event("group.member_added", g, member=member_id, group_instance_id=instance_id)
        if g.is_(S.PREPARING_REBALANCE):
            if g.initial_delay_until_ms is not None:
                g.initial_delay_until_ms = min(now_ms + self.config.initial_rebalance_delay_ms,
                                               g.join_deadline_ms or now_ms)
            self._maybe_complete_join(now_ms, g)
        else:
            self._prepare_rebalance(now_ms, g, f"member {member_id} joined", initial=was_empty)
        return None

    def _join_known(self, now_ms: int, g: Group, member_id: str, instance_id: str | None, **args):
        if member_id in g.pending_members:
            return self._add_and_rebalance(now_ms, g, member_id, instance_id, **args)
        err = self._check_member(g, member_id, instance_id)
        if err != E.NONE:
            return JoinResult(err, member_id)
        m = g.members[member_id]
        protocols = args["protocols"]
        if g.is_(S.PREPARING_REBALANCE):
            self._update_member(now_ms, m, args)
            self._maybe_complete_join(now_ms, g)
            return None
        if g.is_(S.COMPLETING_REBALANCE):
            if m.same_protocols(protocols):
                return self._current_join_result(g, m)  # it lost our answer: repeat it
            self._update_member(now_ms, m, args)
            self._prepare_rebalance(now_ms, g, f"member {member_id} changed its protocols")
            return None
        if g.is_(S.STABLE):
            if g.leader == member_id or not m.same_protocols(protocols):
                self._update_member(now_ms, m, args)
                self._prepare_rebalance(now_ms, g, f"member {member_id} rejoined")
                return None
            m.expires_at_ms = now_ms + m.session_timeout_ms
            return self._current_join_result(g, m)
        return JoinResult(E.UNKNOWN_MEMBER_ID, member_id)

    def _rejoin_static(self, now_ms: int, g: Group, instance_id: str, **args):
        """KIP-345: a static member restarted (it lost its member id). The
        old member id is fenced; in a Stable group with the same protocols
        it keeps its assignment with no rebalance."""
        old_id = g.static_members[instance_id]
        new_id = self.new_member_id(args["client_id"])
        m = g.members.pop(old_id)
        self.outbox.reply(m.join_token, JoinResult(E.FENCED_INSTANCE_ID, old_id))
        self.outbox.reply(m.sync_token, SyncResult(E.FENCED_INSTANCE_ID))
        m.join_token = m.sync_token = None
        old_protocols = list(m.protocols)
        m.member_id = new_id
        g.members[new_id] = m
        g.static_members[instance_id] = new_id
        if g.leader == old_id:
            g.leader = new_id
        self._event("group.static_member_replaced", g, member=new_id, old_member=old_id,
                    group_instance_id=instance_id)
        if g.is_(S.STABLE) and old_protocols == list(args["protocols"]):
            m.session_timeout_ms = args["session_timeout_ms"]
            m.rebalance_timeout_ms = args["rebalance_timeout_ms"]
            m.client_id, m.client_host = args["client_id"], args["client_host"]
            m.expires_at_ms = now_ms + m.session_timeout_ms
            self._store(g)
            res = self._current_join_result(g, m)
            # The leader is told to skip assigning (v9 field; older clients
            # get the member list and their SyncGroup in Stable is answered
            # with the stored assignment).
            return JoinResult(res.error, res.member_id, res.generation_id, res.protocol_type, res.protocol_name,
                              res.leader, skip_assignment=g.leader == new_id, members=res.members)
        self._update_member(now_ms, m, args)
        if g.is_(S.PREPARING_REBALANCE):
            self._maybe_complete_join(now_ms, g)
        else:
            self._prepare_rebalance(now_ms, g, f"static member {instance_id} rejoined")
        return None

    def _update_member(self, now_ms: int, m: Member, args: dict) -> None:
        if m.join_token is not None and m.join_token is not args["token"]:
            self.outbox.reply(m.join_token, JoinResult(E.REBALANCE_IN_PROGRESS, m.member_id))
        m.protocols = list(args["protocols"])
        m.session_timeout_ms = args["session_timeout_ms"]
        m.rebalance_timeout_ms = args["rebalance_timeout_ms"]
        m.client_id, m.client_host = args["client_id"], args["client_host"]
        m.join_token = args["token"]
        m.expires_at_ms = now_ms + m.session_timeout_ms

    def _current_join_result(self, g: Group, m: Member) -> JoinResult:
        members = ()
        if g.leader == m.member_id:
            members = tuple((x.member_id, x.group_instance_id, x.metadata_for(g.protocol))
                            for x in g.members.values())
        return JoinResult(E.NONE, m.member_id, g.generation_id, g.protocol_type, g.protocol, g.leader or "",
                          members=members)

    def _check_member(self, g: Group, member_id: str, instance_id: str | None) -> E:
        """Kafka's member validation: a static member's instance id must map
        to this member id (else FENCED_INSTANCE_ID); the member must exist."""
        if instance_id is not None:
            known = g.static_members.get(instance_id)
            if known is not None and known != member_id:
                return E.FENCED_INSTANCE_ID
        if member_id not in g.members:
            return E.UNKNOWN_MEMBER_ID
        return E.NONE

    # ---------------------------------------------------------- rebalance
    def _prepare_rebalance(self, now_ms: int, g: Group, reason: str, *, initial: bool = False) -> None:
        if g.is_(S.COMPLETING_REBALANCE):
            self._reset_sync(g, E.REBALANCE_IN_PROGRESS)
        g.transition(S.PREPARING_REBALANCE, now_ms)
        g.sync_deadline_ms = None
        g.join_deadline_ms = now_ms + g.rebalance_timeout_ms()
        if initial and self.config.initial_rebalance_delay_ms > 0:
            g.initial_delay_until_ms = min(now_ms + self.config.initial_rebalance_delay_ms, g.join_deadline_ms)
        else:
            g.initial_delay_until_ms = None
        self._event("group.rebalance_prepared", g, reason=reason, members=len(g.members))
        self._maybe_complete_join(now_ms, g)

    def _reset_sync(self, g: Group, error: E) -> None:
        for m in g.members.values():
            self.outbox.reply(m.sync_token, SyncResult(error))
            m.sync_token = None
            m.assignment = b""
        g.storing_generation = None

    def _maybe_complete_join(self, now_ms: int, g: Group) -> None:
        if not g.is_(S.PREPARING_REBALANCE):
            return
        if g.initial_delay_until_ms is not None and now_ms < g.initial_delay_until_ms:
            return
        g.initial_delay_until_ms = None
        if g.all_joined() or (g.join_deadline_ms is not None and now_ms >= g.join_deadline_ms):
            self._complete_join(now_ms, g)

    def _complete_join(self, now_ms: int, g: Group) -> None:
        for m in [m for m in g.members.values() if not m.awaiting_join]:
            g.remove_member(m.member_id)
            self._event("group.member_removed", g, member=m.member_id, reason="did not rejoin in time")
        g.pending_members.clear()
        g.join_deadline_ms = None
        g.generation_id += 1
        if not g.members:
            g.protocol = None
            g.leader = None
            g.transition(S.EMPTY, now_ms)
            self._event("group.empty", g)
            self._store(g)
            return
        g.protocol = g.select_protocol()
        if g.leader not in g.members:
            g.leader = next(iter(g.members))
        g.transition(S.COMPLETING_REBALANCE, now_ms)
        g.sync_deadline_ms = now_ms + g.rebalance_timeout_ms()
        self._event("group.join_completed", g, members=len(g.members), leader=g.leader, protocol=g.protocol)
        for m in g.members.values():
            token, m.join_token = m.join_token, None
            m.is_new = False
            m.expires_at_ms = now_ms + m.session_timeout_ms
            self.outbox.reply(token, self._current_join_result(g, m))

    # --------------------------------------------------------------- sync
    def sync(self, now_ms: int, *, group_id: str, generation_id: int, member_id: str,
             group_instance_id: str | None, protocol_type: str | None, protocol_name: str | None,
             assignments: dict[str, bytes], token) -> SyncResult | None:
        g = self.group(group_id)
        if g is None:
            return SyncResult(E.UNKNOWN_MEMBER_ID)
        err = self._check_member(g, member_id, group_instance_id)
        if err != E.NONE:
            return SyncResult(err)
        if generation_id != g.generation_id:
            return SyncResult(E.ILLEGAL_GENERATION)
        if (protocol_type is not None and protocol_type != g.protocol_type) or (
                protocol_name is not None and protocol_name != g.protocol):
            return SyncResult(E.INCONSISTENT_GROUP_PROTOCOL)
        m = g.members[member_id]
        if g.is_(S.PREPARING_REBALANCE):
            return SyncResult(E.REBALANCE_IN_PROGRESS)
        if g.is_(S.STABLE):
            m.expires_at_ms = now_ms + m.session_timeout_ms
            return SyncResult(E.NONE, m.assignment, g.protocol_type, g.protocol)
        if not g.is_(S.COMPLETING_REBALANCE):
            return SyncResult(E.UNKNOWN_MEMBER_ID)
        if m.sync_token is not None:
            self.outbox.reply(m.sync_token, SyncResult(E.REBALANCE_IN_PROGRESS))
        m.sync_token = token
        m.expires_at_ms = now_ms + m.session_timeout_ms
        if member_id == g.leader and g.storing_generation is None:
            for x in g.members.values():
                x.assignment = assignments.get(x.member_id, b"")
            g.storing_generation = g.generation_id
            self._store(g, completes_sync=True)
            self._event("group.assignments_received", g, leader=member_id)
        return None

    def store_done(self, now_ms: int, group_id: str, generation_id: int, error: int) -> None:
        """The shell finished writing a `completes_sync` group record."""
        g = self.group(group_id)
        if g is None or g.storing_generation != generation_id or g.generation_id != generation_id:
            return
        g.storing_generation = None
        if not g.is_(S.COMPLETING_REBALANCE):
            return
        if error != E.NONE:
            self._event("group.store_failed", g, error=E(error).name if error in E._value2member_map_ else error)
            self._reset_sync(g, E(error) if error in E._value2member_map_ else E.UNKNOWN_SERVER_ERROR)
            self._prepare_rebalance(now_ms, g, "storing the assignment failed")
            return
        g.transition(S.STABLE, now_ms)
        g.sync_deadline_ms = None
        self._event("group.stable", g, members=len(g.members))
        for m in g.members.values():
            token, m.sync_token = m.sync_token, None
            self.outbox.reply(token, SyncResult(E.NONE, m.assignment, g.protocol_type, g.protocol))

    # ---------------------------------------------------------- heartbeat
    def heartbeat(self, now_ms: int, *, group_id: str, generation_id: int, member_id: str,
                  group_instance_id: str | None) -> E:
        g = self.group(group_id)
        if g is None:
            return E.UNKNOWN_MEMBER_ID
        err = self._check_member(g, member_id, group_instance_id)
        if err != E.NONE:
            return err
        if generation_id != g.generation_id:
            return E.ILLEGAL_GENERATION
        m = g.members[member_id]
        m.expires_at_ms = now_ms + m.session_timeout_ms
        if g.is_(S.PREPARING_REBALANCE):
            return E.REBALANCE_IN_PROGRESS
        return E.NONE

    # --------------------------------------------------------------- leave
    def leave(self, now_ms: int, group_id: str, members: list[tuple[str, str | None]]
              ) -> tuple[E, list[MemberLeave]]:
        """LeaveGroup (v3+ batches members; a static member may leave by
        instance id with an empty member id)."""
        g = self.group(group_id)
        if g is None:
            return E.NONE, [MemberLeave(mid, iid, E.UNKNOWN_MEMBER_ID) for mid, iid in members]
        out = []
        removed = False
        for mid, iid in members:
            if iid is not None:
                known = g.static_members.get(iid)
                if known is None:
                    out.append(MemberLeave(mid, iid, E.UNKNOWN_MEMBER_ID))
                    continue
                if mid and mid != known:
                    out.append(MemberLeave(mid, iid, E.FENCED_INSTANCE_ID))
                    continue
                mid = known
            if mid in g.pending_members:
                del g.pending_members[mid]
                out.append(MemberLeave(mid, iid, E.NONE))
                removed = True
                continue
            m = g.remove_member(mid)
            if m is None:
                out.append(MemberLeave(mid, iid, E.UNKNOWN_MEMBER_ID))
                continue
            self.outbox.reply(m.join_token, JoinResult(E.UNKNOWN_MEMBER_ID, mid))
            self.outbox.reply(m.sync_token, SyncResult(E.UNKNOWN_MEMBER_ID))
            self._event("group.member_left", g, member=mid, group_instance_id=iid)
            out.append(MemberLeave(mid, iid, E.NONE))
            removed = True
        if removed:
            self._after_removal(now_ms, g, "members left")
        return E.NONE, out

    def _after_removal(self, now_ms: int, g: Group, reason: str) -> None:
        if g.is_(S.STABLE, S.COMPLETING_REBALANCE):
            self._prepare_rebalance(now_ms, g, reason)
        elif g.is_(S.PREPARING_REBALANCE):
            self._maybe_complete_join(now_ms, g)

    # ---------------------------------------------------------------- time
    def tick(self, now_ms: int) -> None:
        """Expire sessions, pending member ids, join and sync phases."""
        for g in list(self.groups.values()):
            for mid, expiry in list(g.pending_members.items()):
                if now_ms >= expiry:
                    del g.pending_members[mid]
                    self._event("group.pending_member_expired", g, member=mid)
            if g.is_(S.DEAD, S.EMPTY):
                continue
            expired = [m for m in g.members.values()
                       if not m.awaiting_join and not m.awaiting_sync and now_ms >= m.expires_at_ms]
            for m in expired:
                g.remove_member(m.member_id)
                self._event("group.member_expired", g, member=m.member_id,
                            group_instance_id=m.group_instance_id)
            if g.is_(S.COMPLETING_REBALANCE) and g.storing_generation is None and g.sync_deadline_ms is not None \
                    and now_ms >= g.sync_deadline_ms:
                late = [m for m in g.members.values() if not m.awaiting_sync]
                for m in late:
                    g.remove_member(m.member_id)
                    self._event("group.member_removed", g, member=m.member_id, reason="no SyncGroup in time")
                self._prepare_rebalance(now_ms, g, "sync phase timed out")
                continue
            if expired:
                self._after_removal(now_ms, g, "session timeout")
            else:
                self._maybe_complete_join(now_ms, g)

    def next_deadline_ms(self) -> int | None:
        """The earliest time `tick` may change something (for the shell)."""
        times = []
        for g in self.groups.values():
            times.extend(g.pending_members.values())
            for t in (g.join_deadline_ms, g.initial_delay_until_ms, g.sync_deadline_ms):
                if t is not None:
                    times.append(t)
            times.extend(m.expires_at_ms for m in g.members.values()
                         if not m.awaiting_join and not m.awaiting_sync)
        return min(times, default=None)

    # -------------------------------------------------------------- offsets
    def validate_commit(self, now_ms: int, group_id: str, generation_id: int, member_id: str,
                        group_instance_id: str | None) -> Group:
        return offset_rules.validate_commit(self, now_ms, group_id, generation_id, member_id, group_instance_id)

    def expire_offsets(self, now_ms: int) -> list[tuple[str, str, int]]:
        """Drop offsets past retention (returned: the shell writes their
        tombstones); an Empty group left with no offsets is deleted."""
        gone = offset_rules.expired(self, now_ms)
        for group_id, topic, partition in gone:
            self.groups[group_id].offsets.pop((topic, partition), None)
        for group_id in {x[0] for x in gone}:
            g = self.groups[group_id]
            self.log.info("group.offsets_expired", group=group_id, generation=g.generation_id,
                          partitions=sum(1 for x in gone if x[0] == group_id))
            if not g.offsets and not g.pending_commits and g.is_(S.EMPTY):
                self.delete_group(now_ms, group_id)
        return gone

    # --------------------------------------------------------- admin / load
    def delete_group(self, now_ms: int, group_id: str) -> E:
        g = self.group(group_id)
        if g is None:
            return E.GROUP_ID_NOT_FOUND
        if not g.is_(S.EMPTY):
            return E.NON_EMPTY_GROUP
        g.transition(S.DEAD, now_ms)
        del self.groups[group_id]
        self.writes.append(GroupWrite(group_id, g.generation_id, None, False))
        self._event("group.deleted", g)
        return E.NONE

    def load_group(self, rec: GroupRecord) -> None:
        """Replay one group record (log order): replay.py."""
        replay.load_group(self.groups, rec)

    def finish_load(self, now_ms: int) -> None:
        replay.finish_load(self.groups, now_ms)
