"""Nemesis schedules and grudges (pure)."""

from __future__ import annotations

import random

import pytest

from tests.jepsen.nemesis import (
    FAMILIES,
    KINDS,
    FaultEvent,
    NemesisError,
    ScheduleConfig,
    grudge,
    make_schedule,
    parse_nemeses,
    reachable,
    ring_grudge,
)

NODES = [1, 2, 3]


def test_same_seed_same_schedule():
    """Goal: the fault schedule is a function of the seed alone."""
    cfg = ScheduleConfig(time_limit_s=300)
    a = make_schedule(KINDS, NODES, cfg, random.Random(42))
    b = make_schedule(KINDS, NODES, cfg, random.Random(42))
    c = make_schedule(KINDS, NODES, cfg, random.Random(43))
    assert a == b
    assert a != c
    assert len({e.kind for e in a}) > 3  # `all` really mixes kinds


def test_windows_alternate_within_bounds():
    """Goal: faults last 5-15 s, heals 5-15 s between them, nothing past the
    time limit, and the run starts with a heal window."""
    cfg = ScheduleConfig(time_limit_s=200)
    events = make_schedule(KINDS, NODES, cfg, random.Random(1))
    assert events and events[0].start_s >= 5
    for e in events:
        assert e.end_s <= 200
        assert e.end_s - e.start_s <= 15.001
        if e.end_s < 200:
            assert e.end_s - e.start_s >= 4.999
    for prev, nxt in zip(events, events[1:]):
        assert 4.999 <= nxt.start_s - prev.end_s <= 15.001


def test_parse_nemeses_families_and_errors():
    """Goal: family names expand, kinds pass through, unknown names raise."""
    assert parse_nemeses("partition,kill") == FAMILIES["partition"] + FAMILIES["kill"]
    assert parse_nemeses("all") == KINDS
    assert parse_nemeses("pause-leader") == ("pause-leader",)
    assert parse_nemeses("none") == ()
    with pytest.raises(NemesisError):
        parse_nemeses("meteor")


def test_halves_grudge_blocks_both_directions():
    """Goal: a halves partition faults every link across the cut, both ways,
    and none inside a side."""
    e = FaultEvent(0, "partition-halves", 0, 1, {"sides": [[1], [2, 3]], "mode": "drop"})
    g = grudge(e, NODES, None)
    assert g == {(1, 2), (2, 1), (1, 3), (3, 1)}


def test_leader_isolation_uses_resolved_leader():
    """Goal: the leader is cut from everyone; with no known leader nothing is
    faulted."""
    e = FaultEvent(0, "partition-leader", 0, 1, {"node": "leader", "mode": "drop"})
    assert grudge(e, NODES, 2) == {(2, 1), (1, 2), (2, 3), (3, 2)}
    assert grudge(e, NODES, None) == set()


def test_majority_ring_each_node_sees_a_different_majority():
    """Goal: in the ring every node can send to a majority (itself included)
    and no two nodes see the same set."""
    for n in (3, 5):
        nodes = list(range(1, n + 1))
        blocked = ring_grudge(nodes)
        views = reachable(nodes, blocked)
        for node, seen in views.items():
            assert len(seen) == n // 2 + 1
        assert len({frozenset(v) for v in views.values()}) == n


def test_bridge_node_talks_to_both_sides():
    """Goal: in a bridge the bridge node reaches everyone, the sides do not
    reach each other."""
    e = FaultEvent(0, "partition-bridge", 0, 1,
                   {"bridge": 3, "sides": [[1, 2], [4, 5]], "mode": "drop"})
    nodes = [1, 2, 3, 4, 5]
    views = reachable(nodes, grudge(e, nodes, None))
    assert views[3] == set(nodes)
    assert 4 not in views[1] and 1 not in views[5]


def test_schedule_params_are_valid_for_the_cluster():
    """Goal: random targets are real nodes and sides partition the cluster."""
    events = make_schedule(KINDS, [1, 2, 3, 4, 5], ScheduleConfig(600), random.Random(9))
    for e in events:
        p = e.params
        if "sides" in p:
            members = set(p["sides"][0]) | set(p["sides"][1]) | ({p["bridge"]} if "bridge" in p else set())
            assert members == {1, 2, 3, 4, 5}
            assert p["sides"][0] and p["sides"][1]
        if isinstance(p.get("node"), int):
            assert p["node"] in {1, 2, 3, 4, 5}


def test_bad_config_raises():
    """Goal: impossible windows are rejected with a typed error."""
    with pytest.raises(NemesisError):
        make_schedule(KINDS, NODES, ScheduleConfig(10, fault_s=(0, 1)), random.Random(0))
    with pytest.raises(NemesisError):
        make_schedule(("meteor",), NODES, ScheduleConfig(10), random.Random(0))


def test_leader_of_prefers_the_highest_term():
    """Goal: with a deposed leader still claiming an old term, the leader of
    the newest term is the one the nemesis targets; no claim -> None."""
    from tests.jepsen.nemesis_driver import leader_of

    views = {1: {"leader_id": 1, "term": 3}, 2: {"leader_id": 2, "term": 4}, 3: None}
    assert leader_of(views) == 2
    assert leader_of({1: {"leader_id": None, "term": 5}, 2: None}) is None


def test_kill_all_is_in_the_kill_family_and_scheduled():
    """Goal: kill-all is a kill nemesis of its own, with no target to pick."""
    import random as _r

    from tests.jepsen.nemesis import ScheduleConfig, make_schedule

    assert "kill-all" in FAMILIES["kill"] and "kill-all" in FAMILIES["all"]
    events = make_schedule(("kill-all",), [1, 2, 3], ScheduleConfig(60.0), _r.Random(1))
    assert events and all(e.kind == "kill-all" and e.params == {} for e in events)


def test_lose_family_and_its_params():
    """Goal: `lose` names both power-cut kinds; a schedule of them targets a
    node (or the leader) / the whole cluster, torn half the time, seeded."""
    assert parse_nemeses("lose") == ("lose-unfsynced", "lose-unfsynced-all")
    events = make_schedule(parse_nemeses("lose"), NODES, ScheduleConfig(600), random.Random(3))
    assert {e.kind for e in events} == {"lose-unfsynced", "lose-unfsynced-all"}
    for e in events:
        assert set(e.params) == ({"node", "torn_seed"} if e.kind == "lose-unfsynced" else {"torn_seed"})
        assert e.params.get("node", 1) in (*NODES, "leader")
    assert {e.params["torn_seed"] is None for e in events} == {True, False}
