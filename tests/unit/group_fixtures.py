"""Helpers for the pure group coordinator tests: a core with a test
config and short-hands for join/sync/store that read its outbox."""

from __future__ import annotations

import itertools

from rafka.broker.group.config import GroupConfig
from rafka.broker.group.coordinator import GroupCoordinatorCore
from rafka.broker.group.errors import GroupErrorCode as E
from rafka.broker.group.group import GroupState as S
from rafka.broker.group.member import SyncResult

G = "g1"
PROTOS = [("range", b"r-meta"), ("roundrobin", b"rr-meta")]


def make(delay_ms=0, **kw) -> GroupCoordinatorCore:
    ids = itertools.count(1)
    return GroupCoordinatorCore(GroupConfig(initial_rebalance_delay_ms=delay_ms, **kw),
                                new_member_id=lambda client: f"{client}-{next(ids)}")


def join(core, now, member_id="", token=None, *, instance=None, client="c", protos=PROTOS, require=True,
         session=10_000, rebalance=30_000, ptype="consumer", group=G):
    return core.join(now, group_id=group, member_id=member_id, group_instance_id=instance, client_id=client,
                     client_host="/127.0.0.1", session_timeout_ms=session, rebalance_timeout_ms=rebalance,
                     protocol_type=ptype, protocols=protos, require_known_member_id=require, token=token)


def sync(core, now, member_id, generation, token=None, assignments=None, instance=None):
    return core.sync(now, group_id=G, generation_id=generation, member_id=member_id, group_instance_id=instance,
                     protocol_type=None, protocol_name=None, assignments=assignments or {}, token=token)


def replies(core) -> dict:
    return dict(core.outbox.drain())


def store_all(core, now, error=0):
    for w in core.take_writes():
        if w.completes_sync:
            core.store_done(now, w.group_id, w.generation_id, error)


def joined_member(core, now, client="c", **kw) -> str:
    """Run the member-id-required round; returns the member id."""
    r = join(core, now, client=client, **kw)
    assert r.error == E.MEMBER_ID_REQUIRED and r.member_id
    return r.member_id


def stable_group(core, n=2, now=0):
    """n dynamic members through join + sync; returns (member ids, generation)."""
    ids = [joined_member(core, now, client=f"c{i}") for i in range(n)]
    for mid in ids:
        assert join(core, now, mid, token=("join", mid)) is None
    out = replies(core)
    results = {mid: out[("join", mid)] for mid in ids}
    gen = results[ids[0]].generation_id
    leader = results[ids[0]].leader
    assert all(r.error == E.NONE and r.generation_id == gen and r.leader == leader for r in results.values())
    for mid in ids:
        if mid != leader:
            assert sync(core, now, mid, gen, token=("sync", mid)) is None
    assert sync(core, now, leader, gen, token=("sync", leader),
                assignments={mid: f"a-{mid}".encode() for mid in ids}) is None
    store_all(core, now)
    out = replies(core)
    for mid in ids:
        assert out[("sync", mid)] == SyncResult(E.NONE, f"a-{mid}".encode(), "consumer", "range")
    assert core.group(G).state == S.STABLE
    return ids, gen


