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
    ordered_min_time_limit_s,
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


def test_ordered_schedule_names_every_kind_in_order():
    """Goal: an ordered schedule gives the fault windows the kinds in the
    order given, cycling, and with the computed time limit every kind gets
    a whole window, whatever the seed; the windows keep their bounds."""
    kinds = ("kill-all", "partition-ring", "delay", "pause-leader", "lose-unfsynced")
    fault_s, heal_s = (2.0, 3.0), (2.0, 3.0)
    limit_s = ordered_min_time_limit_s(len(kinds), fault_s, heal_s)
    assert limit_s == 3 + 5 * 3 + 4 * 3
    for seed in range(50):
        cfg = ScheduleConfig(limit_s, fault_s, heal_s, kind_order="ordered")
        events = make_schedule(kinds, NODES, cfg, random.Random(seed))
        assert [e.kind for e in events] == [kinds[i % len(kinds)] for i in range(len(events))]
        assert len(events) >= len(kinds)
        for e in events[:len(kinds)]:
            assert e.end_s <= limit_s and e.end_s - e.start_s >= 1.999
    # cycling: a longer limit starts over from the first kind
    long = make_schedule(kinds[:2], NODES, ScheduleConfig(60, fault_s, heal_s, kind_order="ordered"),
                         random.Random(0))
    assert [e.kind for e in long[:4]] == [kinds[0], kinds[1], kinds[0], kinds[1]]


def test_ordered_schedule_is_seeded_and_random_stays_the_default():
    """Goal: an ordered schedule is a function of the seed too (window
    lengths and targets); the default stays the random draw, unchanged."""
    cfg = ScheduleConfig(120, kind_order="ordered")
    assert make_schedule(KINDS[:4], NODES, cfg, random.Random(5)) == \
        make_schedule(KINDS[:4], NODES, cfg, random.Random(5))
    assert ScheduleConfig(10).kind_order == "random"
    rnd = make_schedule(KINDS, NODES, ScheduleConfig(300), random.Random(42))
    assert [e.kind for e in rnd] != [KINDS[i % len(KINDS)] for i in range(len(rnd))]


def test_ordered_schedule_refuses_a_time_limit_too_short():
    """Goal: an ordered schedule that could leave a kind without a window
    raises (the run would silently not inject it); an unknown order raises."""
    kinds = FAMILIES["kill"]
    need_s = ordered_min_time_limit_s(len(kinds), (2.0, 3.0), (2.0, 3.0))
    with pytest.raises(NemesisError, match="time limit"):
        make_schedule(kinds, NODES, ScheduleConfig(need_s - 0.5, (2.0, 3.0), (2.0, 3.0),
                                                   kind_order="ordered"), random.Random(0))
    with pytest.raises(NemesisError):
        make_schedule(kinds, NODES, ScheduleConfig(60, kind_order="shuffled"), random.Random(0))


def test_parse_nemeses_keeps_the_order_named_when_asked():
    """Goal: for an ordered schedule the kinds come in the order first
    named (a family in KINDS order), deduplicated; by default KINDS order."""
    assert parse_nemeses("delay,kill,kill-leader", keep_order=True) == ("delay", *FAMILIES["kill"])
    assert parse_nemeses("delay,kill") == (*FAMILIES["kill"], "delay")


def test_ordered_cli_refuses_a_time_limit_too_short(tmp_path):
    """Goal: `scripts/jepsen.py --schedule ordered` with a time limit that
    cannot give every nemesis a window exits 2 before starting anything."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "jepsen.py"
    spec = importlib.util.spec_from_file_location("jepsen_script", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--schedule", "ordered", "--nemesis", "kill", "--fault-s", "2,3", "--heal-s", "2,3",
            "--out", str(tmp_path)]
    assert module.main([*argv, "--time-limit", "17"]) == 2  # needs 3 + 3*3 + 2*3 = 18
    assert not (tmp_path / "history.jsonl").exists()
    assert module.build_parser().parse_args(argv).schedule == "ordered"
    assert module.build_parser().parse_args([]).schedule == "random"


def test_injected_kinds_reads_the_history(tmp_path):
    """Goal: a run's injected kinds come from its nemesis start events; a
    leader-targeted fault that found no leader does not count."""
    import json

    from tests.jepsen.test_runs_common import injected_kinds

    starts = ["partition-leader(mode=drop, node=leader) target=None links=[]",
              "partition-ring(mode=drop, ring=[1, 2, 3]) target=None links=[(1, 3)]",
              "kill-leader node=None", "kill-all nodes=[1, 2, 3]",
              "lose-unfsynced(node=leader, torn_seed=None) target=None lost=None",
              "lose-unfsynced(node=2, torn_seed=None) target=2 lost={'drops': 1}",
              "delay(delay_ms=70)"]
    lines = []
    for i, desc in enumerate(starts):
        for f in ("start", "stop"):
            lines.append({"process": "nemesis", "type": "info", "f": f, "value": desc,
                          "time": float(i), "index": len(lines)})
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    assert injected_kinds(tmp_path) == ["partition-ring", "kill-all", "lose-unfsynced", "delay"]
