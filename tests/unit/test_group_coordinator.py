"""Goal: the pure group coordinator follows Kafka's classic protocol —
states, the member-id-required round, rebalance and session timeouts,
SyncGroup hand-out, heartbeat and leave errors, static members (KIP-345),
protocol selection and its invariants under random operations. Time is
passed in, so every case is deterministic."""

from __future__ import annotations

import itertools

from hypothesis import given, settings, strategies as st

from rafka.broker.group.errors import GroupErrorCode as E
from rafka.broker.group.group import GroupState as S
from rafka.broker.group.member import JoinResult, SyncResult

from tests.unit.group_fixtures import G, join, joined_member, make, replies, stable_group, store_all, sync  # noqa: F401


# ----------------------------------------------------------------- join
def test_member_id_required_round_then_first_generation():
    core = make()
    mid = joined_member(core, 0)
    assert core.group(G).state == S.EMPTY and mid in core.group(G).pending_members
    assert join(core, 1, mid, token="t") is None
    r = replies(core)["t"]
    assert r.error == E.NONE and r.generation_id == 1 and r.leader == mid and r.protocol_name == "range"
    assert r.members == ((mid, None, b"r-meta"),)
    assert core.group(G).state == S.COMPLETING_REBALANCE


def test_old_join_versions_get_a_member_id_at_once():
    core = make()
    assert join(core, 0, token="t", require=False) is None
    r = replies(core)["t"]
    assert r.error == E.NONE and r.member_id == "c-1" and r.generation_id == 1


def test_pending_member_id_expires_after_session_timeout():
    core = make()
    mid = joined_member(core, 0)
    core.tick(9_999)
    assert mid in core.group(G).pending_members
    core.tick(10_000)
    assert not core.group(G).pending_members
    assert join(core, 10_001, mid).error == E.UNKNOWN_MEMBER_ID


def test_bad_input_errors():
    core = make()
    assert join(core, 0, group="").error == E.INVALID_GROUP_ID
    assert join(core, 0, session=10).error == E.INVALID_SESSION_TIMEOUT
    assert join(core, 0, session=10**8).error == E.INVALID_SESSION_TIMEOUT
    assert join(core, 0, "nobody").error == E.UNKNOWN_MEMBER_ID
    assert join(core, 0, protos=[]).error == E.INCONSISTENT_GROUP_PROTOCOL
    assert join(core, 0, ptype="").error == E.INCONSISTENT_GROUP_PROTOCOL


def test_inconsistent_protocols_refused():
    core = make()
    stable_group(core, 1)
    assert join(core, 1, ptype="connect").error == E.INCONSISTENT_GROUP_PROTOCOL
    assert join(core, 1, protos=[("sticky", b"")]).error == E.INCONSISTENT_GROUP_PROTOCOL


def test_protocol_selection_by_vote_among_common_protocols():
    core = make()
    a = joined_member(core, 0, client="a", protos=[("roundrobin", b"1"), ("range", b"2")])
    b = joined_member(core, 0, client="b", protos=[("range", b"3"), ("roundrobin", b"4")])
    c = joined_member(core, 0, client="c", protos=[("sticky", b"5"), ("range", b"6")])
    for mid, protos in ((a, [("roundrobin", b"1"), ("range", b"2")]), (b, [("range", b"3"), ("roundrobin", b"4")]),
                        (c, [("sticky", b"5"), ("range", b"6")])):
        join(core, 0, mid, token=mid, protos=protos)
    out = replies(core)
    # Only "range" is common to all three.
    assert {r.protocol_name for r in out.values()} == {"range"}
    leader = out[a].leader
    assert dict((m, meta) for m, _, meta in out[leader].members) == {a: b"2", b: b"3", c: b"6"}
    assert all(out[m].members == () for m in (a, b, c) if m != leader)


def test_group_max_size():
    core = make(members_max=2)
    stable_group(core, 2)
    assert join(core, 5).error == E.GROUP_MAX_SIZE_REACHED


def test_initial_rebalance_delay_collects_members_into_one_generation():
    core = make(delay_ms=3_000)
    a = joined_member(core, 0, client="a")
    assert join(core, 0, a, token="a") is None
    core.tick(1_000)
    b = joined_member(core, 1_000, client="b")
    assert join(core, 1_000, b, token="b") is None
    core.tick(3_999)
    assert replies(core) == {}
    core.tick(4_000)  # the delay was extended by b's join
    out = replies(core)
    assert out["a"].generation_id == out["b"].generation_id == 1


def test_rebalance_timeout_removes_members_that_do_not_rejoin():
    core = make()
    (a, b), gen = stable_group(core, 2)
    c = joined_member(core, 100, client="x")
    assert join(core, 100, c, token="c") is None
    assert core.group(G).state == S.PREPARING_REBALANCE
    assert core.heartbeat(200, group_id=G, generation_id=gen, member_id=a, group_instance_id=None) \
        == E.REBALANCE_IN_PROGRESS
    assert join(core, 300, a, token="a") is None
    for t in range(300, 100 + 30_000, 3_000):  # b stays alive but never rejoins
        assert core.heartbeat(t, group_id=G, generation_id=gen, member_id=b, group_instance_id=None) \
            == E.REBALANCE_IN_PROGRESS
        core.tick(t)
    core.tick(100 + 30_000 - 1)
    assert replies(core) == {}
    core.tick(100 + 30_000)  # the rebalance timeout
    out = replies(core)
    assert set(out) == {"a", "c"} and out["a"].generation_id == gen + 1
    assert b not in core.group(G).members


# ------------------------------------------------------------ sync / hb
def test_sync_errors_and_follower_waits_for_leader():
    core = make()
    (a, b), gen = stable_group(core, 2)
    assert sync(core, 1, "ghost", gen).error == E.UNKNOWN_MEMBER_ID
    assert sync(core, 1, a, gen + 7).error == E.ILLEGAL_GENERATION
    assert sync(core, 1, a, gen) == SyncResult(E.NONE, f"a-{a}".encode(), "consumer", "range")
    assert core.sync(1, group_id="nope", generation_id=1, member_id=a, group_instance_id=None, protocol_type=None,
                     protocol_name=None, assignments={}, token=None).error == E.UNKNOWN_MEMBER_ID
    assert core.sync(1, group_id=G, generation_id=gen, member_id=a, group_instance_id=None, protocol_type="x",
                     protocol_name=None, assignments={}, token=None).error == E.INCONSISTENT_GROUP_PROTOCOL


def test_assignment_is_handed_out_only_after_the_store():
    core = make()
    a = joined_member(core, 0)
    join(core, 0, a, token="j")
    gen = replies(core)["j"].generation_id
    assert sync(core, 0, a, gen, token="s", assignments={a: b"x"}) is None
    writes = core.take_writes()
    assert [w.completes_sync for w in writes] == [True]
    assert replies(core) == {}
    core.store_done(1, G, gen, 0)
    assert replies(core)["s"] == SyncResult(E.NONE, b"x", "consumer", "range")


def test_failed_store_answers_the_error_and_rebalances():
    core = make()
    a = joined_member(core, 0)
    join(core, 0, a, token="j")
    gen = replies(core)["j"].generation_id
    sync(core, 0, a, gen, token="s", assignments={a: b"x"})
    store_all(core, 1, error=E.NOT_COORDINATOR)
    assert replies(core)["s"].error == E.NOT_COORDINATOR
    assert core.group(G).state == S.PREPARING_REBALANCE


def test_sync_phase_timeout_removes_members_that_never_sync():
    core = make()
    a = joined_member(core, 0, client="a")
    b = joined_member(core, 0, client="b")
    join(core, 0, a, token="a")
    join(core, 0, b, token="b")
    out = replies(core)
    follower = a if out[a if False else "a"].leader == b else b
    sync(core, 10, follower, out["a"].generation_id, token="s")
    core.tick(30_000)  # the leader never sent its SyncGroup
    assert replies(core)["s"].error == E.REBALANCE_IN_PROGRESS
    g = core.group(G)
    assert set(g.members) == {follower} and g.state == S.PREPARING_REBALANCE


def test_heartbeat_errors():
    core = make()
    (a, b), gen = stable_group(core, 2)
    hb = lambda mid, gen_, inst=None: core.heartbeat(5, group_id=G, generation_id=gen_, member_id=mid,  # noqa: E731
                                                     group_instance_id=inst)
    assert hb(a, gen) == E.NONE
    assert hb("ghost", gen) == E.UNKNOWN_MEMBER_ID
    assert hb(a, gen - 1) == E.ILLEGAL_GENERATION
    assert core.heartbeat(5, group_id="none", generation_id=1, member_id=a, group_instance_id=None) \
        == E.UNKNOWN_MEMBER_ID


def test_session_expiry_removes_member_and_rebalances():
    core = make()
    (a, b), gen = stable_group(core, 2, now=0)
    for t in range(0, 10_000, 3_000):
        assert core.heartbeat(t, group_id=G, generation_id=gen, member_id=a, group_instance_id=None) == E.NONE
        core.tick(t)
    assert set(core.group(G).members) == {a, b}
    core.tick(10_000)  # b's last heartbeat was at 0
    g = core.group(G)
    assert b not in g.members and a in g.members
    assert g.state == S.PREPARING_REBALANCE
    assert core.heartbeat(21_000, group_id=G, generation_id=gen, member_id=a, group_instance_id=None) \
        == E.REBALANCE_IN_PROGRESS
    join(core, 21_000, a, token="a")
    r = replies(core)["a"]
    assert r.generation_id == gen + 1 and r.members == ((a, None, b"r-meta"),)


def test_all_members_expire_group_becomes_empty_and_is_stored():
    core = make()
    stable_group(core, 1)
    core.take_writes()
    core.tick(10_000)
    g = core.group(G)
    assert g.state == S.EMPTY and not g.members and g.generation_id == 2
    assert [w.completes_sync for w in core.take_writes()] == [False]


# ----------------------------------------------------------------- leave
def test_leave_batched_and_rebalance():
    core = make()
    (a, b), gen = stable_group(core, 2)
    err, results = core.leave(1, G, [(a, None), ("ghost", None)])
    assert err == E.NONE
    assert [(r.member_id, r.error) for r in results] == [(a, E.NONE), ("ghost", E.UNKNOWN_MEMBER_ID)]
    g = core.group(G)
    assert g.state == S.PREPARING_REBALANCE and g.leader == b
    join(core, 2, b, token="b")
    assert replies(core)["b"].generation_id == gen + 1


def test_last_member_leaving_empties_the_group():
    core = make()
    (a,), gen = stable_group(core, 1)
    core.leave(1, G, [(a, None)])
    assert core.group(G).state == S.EMPTY


# ---------------------------------------------------------------- static
def test_static_member_restart_keeps_assignment_without_rebalance():
    core = make(delay_ms=1_000)
    a = join(core, 0, instance="i-a", client="a", token="a")
    assert a is None  # static members skip the member-id-required round
    b = joined_member(core, 0, client="b")
    join(core, 0, b, token="b")
    core.tick(1_000)
    out = replies(core)
    a_id, gen, leader = out["a"].member_id, out["a"].generation_id, out["a"].leader
    for mid, tok in ((a_id, "sa"), (b, "sb")):
        sync(core, 0, mid, gen, token=tok, assignments={a_id: b"A", b: b"B"} if mid == leader else None,
             instance="i-a" if mid == a_id else None)
    store_all(core, 0)
    replies(core)
    # The static member restarts: unknown member id, same instance id.
    r = join(core, 100, instance="i-a", client="a")
    assert r.error == E.NONE and r.generation_id == gen and r.member_id != a_id
    assert core.group(G).state == S.STABLE
    assert sync(core, 101, r.member_id, gen, instance="i-a").assignment == b"A"
    # Its old member id is fenced.
    assert core.heartbeat(102, group_id=G, generation_id=gen, member_id=a_id, group_instance_id="i-a") \
        == E.FENCED_INSTANCE_ID
    assert core.heartbeat(102, group_id=G, generation_id=gen, member_id=r.member_id, group_instance_id="i-a") \
        == E.NONE


def test_static_member_with_changed_protocols_triggers_rebalance():
    core = make()
    join(core, 0, instance="i", token="j")
    r = replies(core)["j"]
    sync(core, 0, r.member_id, r.generation_id, assignments={r.member_id: b"A"})
    store_all(core, 0)
    assert join(core, 5, instance="i", protos=[("range", b"new")], token="k") is None
    out = replies(core)
    assert out["k"].generation_id == r.generation_id + 1


def test_static_leave_by_instance_id_and_fencing():
    core = make()
    join(core, 0, instance="i", token="j")
    mid = replies(core)["j"].member_id
    _, res = core.leave(1, G, [("other", "i")])
    assert res[0].error == E.FENCED_INSTANCE_ID
    _, res = core.leave(1, G, [("", "unknown")])
    assert res[0].error == E.UNKNOWN_MEMBER_ID
    _, res = core.leave(1, G, [("", "i")])
    assert res[0].error == E.NONE and mid not in core.group(G).members


# --------------------------------------------------------------- property
ops = st.lists(st.tuples(st.sampled_from(["join", "sync", "hb", "leave", "tick"]), st.integers(0, 3),
                         st.integers(0, 4_000)), max_size=60)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_invariants_hold_under_random_operations(seq):
    """Whatever the members do: the leader is a member, static ids map one
    to one, Stable/Completing groups have a protocol all members support,
    and every parked request is answered at most once."""
    core = make()
    now = 0
    ids: dict[int, str] = {}
    gens: dict[int, int] = {}
    answered = set()
    tokens = itertools.count()
    for op, who, dt in seq:
        now += dt
        tok = next(tokens)
        mid = ids.get(who, "")
        if op == "join":
            r = join(core, now, mid, token=tok, client=f"c{who}", require=who % 2 == 0,
                     instance="static" if who == 3 else None)
            if r is not None:
                answered.add(tok)
                if r.error in (E.NONE, E.MEMBER_ID_REQUIRED):
                    ids[who] = r.member_id
                    gens[who] = r.generation_id
        elif op == "sync" and mid:
            g = core.group(G)
            assigns = {m: b"x" for m in (g.members if g else {})}
            r = sync(core, now, mid, gens.get(who, -1), token=tok, assignments=assigns,
                     instance="static" if who == 3 else None)
            if r is not None:
                answered.add(tok)
            store_all(core, now)
        elif op == "hb" and mid:
            core.heartbeat(now, group_id=G, generation_id=gens.get(who, -1), member_id=mid,
                           group_instance_id="static" if who == 3 else None)
        elif op == "leave" and mid:
            core.leave(now, G, [(mid, None)])
        else:
            core.tick(now)
        for t, res in core.outbox.drain():
            assert t not in answered
            answered.add(t)
            if isinstance(res, JoinResult) and res.error == E.NONE:
                for k, v in ids.items():
                    if v == res.member_id:
                        gens[k] = res.generation_id
        g = core.group(G)
        if g is None:
            continue
        assert g.leader is None or g.leader in g.members
        assert all(g.members[m].group_instance_id == i for i, m in g.static_members.items())
        if g.state in (S.STABLE, S.COMPLETING_REBALANCE):
            assert g.protocol is not None
            assert all(g.protocol in m.protocol_names() for m in g.members.values())
        if g.state == S.EMPTY:
            assert not g.members


