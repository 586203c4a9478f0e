"""Tests of the deterministic Raft simulator and, through it, of the Raft core.

The seed sweep runs whole 3- and 5-node clusters under every fault the
simulator knows and checks the safety invariants after every event, progress
after healing, and linearizability of the client history. The targeted
scenarios pin down individual behaviours (and that the checkers themselves
would notice a violation).
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys

import pytest

from rafka.raft.types import ConfChangeKind, Role
from tests.sim.cluster import SimConfig, SimFailure, Simulation
from tests.sim.clients import History
from tests.sim.invariants import InvariantViolation, SafetyChecker
from tests.sim.kv import ABSENT, Command, KvStateMachine
from tests.sim.network import NetworkConfig, SimNetwork

CI_SEEDS = 240
CI_CHUNK = 30
CI_EVENTS = 2000


def _seed_config(seed: int, events: int = CI_EVENTS) -> SimConfig:
    return SimConfig(nodes=3 if seed % 2 else 5, events_max=events)


@pytest.mark.parametrize("first", range(0, CI_SEEDS, CI_CHUNK))
def test_seed_sweep(first):
    """Goal: 240 seeds (alternating 3 and 5 nodes) with partitions, crashes at
    every crash point, snapshots and membership changes keep every safety
    invariant, make progress after healing and give linearizable histories."""
    for seed in range(first, first + CI_CHUNK):
        result = Simulation(seed, _seed_config(seed)).run()
        assert result.leaders >= 1
        assert result.tally.get("progress") == 1


def test_sweep_exercises_the_faults_it_claims():
    """Goal: the sweep's configuration really produces the faults it is meant
    to test (so a silent regression in the fault scheduler cannot make the
    sweep vacuous)."""
    tally: dict[str, int] = {}
    for seed in range(1000, 1040):  # 40 more seeds, beyond the sweep's
        result = Simulation(seed, _seed_config(seed)).run()
        for k, v in list(result.tally.items()) + list(result.faults.items()):
            tally[k] = tally.get(k, 0) + v
        tally["ops ok"] = tally.get("ops ok", 0) + result.ops["ok"]
        tally["ops info"] = tally.get("ops info", 0) + result.ops["info"]
    for event in ("crash", "start", "snapshot", "install-snap", "add_learner", "add_voter",
                  "remove_voter", "transfer", "SnapshotRequest", "ReadIndexRequest",
                  "crash-point before_persist", "crash-point after_early_send", "crash-point torn",
                  "crash-point after_persist", "crash-point after_send", "crash-point after_vote", "ops ok", "ops info",
                  "partition", "repartition", "leader_killer", "storm", "TimeoutNow"):
        assert tally.get(event, 0) > 0, f"no {event!r} in 40 seeds"


def test_same_seed_replays_exactly():
    """Goal: a run is a pure function of its seed (replay of a failing seed
    reproduces it); different seeds give different runs."""
    a = Simulation(12, _seed_config(12, 800))
    a.run()
    b = Simulation(12, _seed_config(12, 800))
    b.run()
    c = Simulation(13, _seed_config(12, 800))
    c.run()
    assert a.trace.render() == b.trace.render()
    assert a.events == b.events and a.now_ms == b.now_ms
    assert a.trace.render() != c.trace.render()


# -- targeted scenarios ----------------------------------------------------------


def _quiet_sim(nodes: int = 3, seed: int = 1) -> Simulation:
    """A simulation driven by hand: no clients, no faults, a loss-free network."""
    sim = Simulation(seed, SimConfig(nodes=nodes, clients=0))
    sim.network.faulty = False
    sim.in_fault_phase = False
    return sim


def _elect(sim: Simulation):
    assert sim.run_until(lambda: sim.leader() is not None, 5_000), "no leader elected"
    return sim.leader()


def _commit_probe(sim: Simulation, key: str = "k", value: int = 1) -> int:
    leader = _elect(sim)
    index = leader.core.propose(Command(99, value, "put", key, value).encode())
    sim.drain(leader)
    members = leader.core.voters | leader.core.learners
    ok = sim.run_until(
        lambda: all(sim.nodes[m].kv.applied_index >= index for m in members if sim.nodes[m].alive),
        5_000,
    )
    assert ok, f"entry {index} not applied everywhere"
    return index


def test_isolated_leader_is_replaced_and_majority_makes_progress():
    """Goal: when the leader is cut off, the majority elects a new leader of a
    higher term that commits, and after healing the old leader follows it."""
    sim = _quiet_sim(5)
    old = _elect(sim)
    others = [n for n in sim.nodes if n != old.node_id]
    sim.network.split([[old.node_id], others])
    assert sim.run_until(
        lambda: (l := sim.leader()) is not None and l.node_id != old.node_id, 10_000
    )
    new = sim.leader()
    assert new.core.term > old.core.term or old.core.role != Role.LEADER
    sim.network.heal()
    index = _commit_probe(sim, "x", 7)
    assert sim.nodes[old.node_id].kv.read("x") == 7
    assert sim.nodes[old.node_id].core.role == Role.FOLLOWER
    assert index > 1


def test_crash_before_persist_loses_the_unsynced_write():
    """Goal: a crash point before persisting drops the whole Ready: the
    follower's durable log does not contain the entry it was sent, and it
    never acknowledged it."""
    sim = _quiet_sim(3)
    leader = _elect(sim)
    _commit_probe(sim)
    follower = next(n for n in sim.nodes.values() if n is not leader)
    last_before = follower.storage.last_index()
    follower.crash_point = "before_persist"
    leader.core.propose(Command(98, 1, "put", "y", 5).encode())
    sim.drain(leader)
    assert sim.run_until(lambda: not follower.alive, 2_000)
    assert follower.storage.last_index() == last_before
    # The cluster still commits with the other two, and the restarted
    # follower catches up from the leader.
    from tests.sim.faults import restart

    restart(sim, follower)
    assert sim.run_until(lambda: follower.kv.read("y") == 5, 5_000)


def test_torn_write_keeps_only_a_prefix_and_no_hard_state():
    """Goal: a torn write persists at most a prefix of the Ready's entries and
    none of its hard state; the node restarts from that and catches up."""
    sim = _quiet_sim(3, seed=4)
    leader = _elect(sim)
    _commit_probe(sim)
    follower = next(n for n in sim.nodes.values() if n is not leader)
    hs_before = follower.storage.hard_state
    follower.crash_point = "torn"
    for v in range(1, 6):
        leader.core.propose(Command(97, v, "put", "t", v).encode())
    sim.drain(leader)
    assert sim.run_until(lambda: not follower.alive, 2_000)
    assert follower.storage.hard_state == hs_before
    from tests.sim.faults import restart

    restart(sim, follower)
    assert sim.run_until(lambda: follower.kv.read("t") == 5, 5_000)


def test_leader_crash_after_early_send_loses_only_its_own_copy():
    """Goal: a leader that crashes after sending its pipelined appends but
    before persisting them has nothing of them on disk, while the followers
    do; the entry they hold survives (a new leader commits it) and every node,
    the restarted old leader included, applies it."""
    sim = _quiet_sim(3, seed=5)
    leader = _elect(sim)
    _commit_probe(sim)
    followers = [n for n in sim.nodes.values() if n is not leader]
    leader.crash_point = "after_early_send"
    index = leader.core.propose(Command(96, 1, "put", "e", 9).encode())
    sim.drain(leader)
    assert not leader.alive
    assert sim.trace.tally["crash-point after_early_send"] == 1
    assert leader.storage.last_index() < index
    assert sim.run_until(lambda: all(f.storage.last_index() >= index for f in followers), 2_000)
    from tests.sim.faults import restart

    restart(sim, leader)
    assert sim.run_until(lambda: all(n.kv.read("e") == 9 for n in sim.nodes.values()), 10_000)


def test_leader_durability_check_catches_an_undurable_self_match():
    """Goal: the simulator notices a leader that credits itself with entries
    it has not persisted (the bug pipelined sends would make fatal)."""
    sim = _quiet_sim(3)
    leader = _elect(sim)
    leader.core.propose(Command(95, 1, "put", "d", 1).encode())
    leader.core.prs[leader.node_id].match = leader.core.log.last_index() + 1
    with pytest.raises(InvariantViolation, match="leader durability"):
        sim.drain(leader)


def test_membership_add_learner_promote_remove_voter():
    """Goal: a learner joins with an empty log, catches up, is promoted to
    voter, and a voter is then removed; every node agrees on the result."""
    sim = _quiet_sim(3)
    _commit_probe(sim)
    leader = sim.leader()
    leader.core.propose_conf_change(ConfChangeKind.ADD_LEARNER, 4)
    sim.drain(leader)
    sim.add_node(4, frozenset())
    learner = sim.nodes[4]
    assert sim.run_until(lambda: learner.kv.read("k") == 1, 5_000)
    assert 4 in learner.core.learners

    def promote() -> bool:
        try:
            sim.leader().core.propose_conf_change(ConfChangeKind.ADD_VOTER, 4)
        except Exception:
            return False
        sim.drain(sim.leader())
        return True

    assert sim.run_until(promote, 5_000)
    assert sim.run_until(lambda: 4 in sim.leader().core.voters and learner.core.voters == sim.leader().core.voters, 5_000)
    victim = next(v for v in sorted(sim.leader().core.voters) if v != sim.leader().node_id and v != 4)

    def remove() -> bool:
        try:
            sim.leader().core.propose_conf_change(ConfChangeKind.REMOVE_VOTER, victim)
        except Exception:
            return False
        sim.drain(sim.leader())
        return True

    assert sim.run_until(remove, 5_000)
    _commit_probe(sim, "after", 3)
    assert sim.leader().core.voters == frozenset({1, 2, 3, 4}) - {victim}


def test_lagging_node_gets_snapshot_after_compaction():
    """Goal: a node that was down while the leader compacted its log is
    brought back by snapshot install and ends with the same KV state."""
    sim = _quiet_sim(3, seed=2)
    leader = _elect(sim)
    down = next(n for n in sim.nodes.values() if n is not leader)
    down.crash("test")
    for v in range(1, 30):
        leader.core.propose(Command(50, v, "put", "s", v).encode())
        sim.drain(leader)
        sim.run_until(lambda: False, 5)
    assert sim.run_until(lambda: leader.kv.read("s") == 29, 5_000)
    for node in sim.nodes.values():
        if node.alive:
            assert node.take_snapshot() is not None
    from tests.sim.faults import restart

    restart(sim, down)
    assert sim.run_until(lambda: down.kv.read("s") == 29, 10_000)
    assert sim.trace.tally["install-snap"] >= 1
    assert down.kv.state_hash() == leader.kv.state_hash()


def test_figure8_old_term_entries_are_not_committed_by_counting():
    """Goal: the Raft paper's Figure 8. A leader must not commit an entry of
    an earlier term just because a majority holds it: here the term-t1 tail
    reaches a third node while a newer leader's conflicting entry waits on an
    isolated node; if the tail were committed at that moment, the isolated
    node could win the next election and overwrite it (leader completeness /
    state-machine safety would fail)."""
    cfg = SimConfig(nodes=5, clients=0, randomize_profile=False, msg_bytes_max=64, inflight_msgs_max=1)
    sim = Simulation(8, cfg)
    sim.network.faulty = False
    sim.in_fault_phase = False
    _commit_probe(sim)
    l1 = sim.leader()
    b = next(n for n in sorted(sim.nodes) if n != l1.node_id)
    rest = [n for n in sorted(sim.nodes) if n not in (l1.node_id, b)]
    sim.network.split([[l1.node_id, b], rest])
    tail = [l1.core.propose(Command(60, v, "put", "f", v).encode()) for v in range(1, 6)]
    sim.drain(l1)
    k = tail[0]
    assert sim.run_until(lambda: sim.nodes[b].storage.last_index() >= tail[-1], 2_000)
    # The majority side elects a leader; isolate it the moment it wins, so
    # its own no-op entry at index k stays on it alone.
    assert sim.run_until(lambda: any(sim.nodes[n].core.role == Role.LEADER for n in rest), 10_000)
    l2 = next(n for n in rest if sim.nodes[n].core.role == Role.LEADER)
    assert sim.nodes[l2].term_at(k) == sim.nodes[l2].core.term  # its no-op sits at k
    sim.network.split([[l2], [n for n in sorted(sim.nodes) if n != l2]])
    # The old leader's side wins the next term and starts catching others up.
    assert sim.run_until(
        lambda: (l := sim.leader()) is not None and l.node_id in (l1.node_id, b)
        and l.core.term > sim.nodes[l2].core.term, 10_000)
    l3 = sim.leader()
    # Run until the tail's first entry is committed (or a while), then cut the
    # new leader's side off and let the isolated node back in with the rest.
    sim.run_until(lambda: l3.core.log.committed >= k, 3_000)
    sim.network.split([[l1.node_id, b], rest])
    sim.run_until(lambda: False, 3_000)  # invariants are checked throughout
    sim.network.heal()
    _commit_probe(sim, "g", 1)


def test_restart_from_snapshot_that_kept_older_entries():
    """Goal: a node whose snapshot is newer than its compaction point (the log
    kept entries below the snapshot) restarts without re-applying entries the
    snapshot covers, and still catches up. (Seed 5 of an early sweep found a
    core that re-delivered them; the simulator flags that as a repeat apply.)"""
    sim = _quiet_sim(3, seed=6)
    leader = _elect(sim)
    for v in range(1, 15):
        leader.core.propose(Command(70, v, "put", "r", v).encode())
        sim.drain(leader)
    assert sim.run_until(lambda: all(n.kv.read("r") == 14 for n in sim.nodes.values()), 5_000)
    node = next(n for n in sim.nodes.values() if n is not leader)
    index = node.take_snapshot(keep_entries=10)
    assert node.storage.first_index() - 1 < index == node.storage.snapshot().meta.index
    node.crash("test")
    from tests.sim.faults import restart

    restart(sim, node)
    assert node.kv.applied_index == index and node.kv.read("r") == 14
    _commit_probe(sim, "r2", 1)
    assert node.kv.read("r2") == 1


def test_failure_report_names_seed_invariant_and_trace():
    """Goal: when an invariant breaks, the failure names the seed, the
    invariant and shows the last events, and says how to replay."""
    sim = Simulation(77, SimConfig(nodes=3, events_max=400))
    # Corrupt one node's state machine behind Raft's back: the next entry it
    # applies yields a state no other node has.
    original = sim.step_event
    corrupted = []

    def step_and_corrupt():
        original()
        if sim.events == 200 and not corrupted:
            node = next(n for n in sim.nodes.values() if n.alive)
            node.kv.data["a"] = -1
            corrupted.append(node.node_id)

    sim.step_event = step_and_corrupt
    with pytest.raises(SimFailure) as info:
        sim.run()
    text = str(info.value)
    assert info.value.invariant in ("state-machine safety", "linearizability")
    assert "seed 77" in text and "--- last events ---" in text and "t=" in text
    assert "vopr.py --seed 77" in text


# -- the checkers themselves -------------------------------------------------------


def _no_log(index):
    return None


def test_checker_flags_two_leaders_in_one_term():
    """Goal: election safety is checked across all history, not just now."""
    c = SafetyChecker()
    c.on_leader(1, 3, _no_log)
    c.on_not_leader(1)
    c.on_leader(2, 4, _no_log)
    with pytest.raises(InvariantViolation, match="election safety"):
        c.on_leader(2, 3, _no_log)


def test_checker_flags_log_mismatch():
    """Goal: two nodes holding (index, term) with different payloads or
    different predecessors break log matching."""
    c = SafetyChecker()
    c.on_append(1, 5, 2, "x", 1)
    c.on_append(2, 5, 2, "x", 1)
    with pytest.raises(InvariantViolation, match="log matching"):
        c.on_append(3, 5, 2, "y", 1)
    with pytest.raises(InvariantViolation, match="log matching"):
        c.on_append(3, 5, 2, "x", 2)


def test_checker_flags_leader_missing_committed_entry():
    """Goal: a leader of a later term that lacks a committed entry breaks
    leader completeness; a stale leader of an older term does not."""
    c = SafetyChecker()
    log1 = {1: 1, 2: 2}.get
    c.on_commit(1, 2, 1, 2, log1)  # committed by a node in term 2
    c.on_leader(3, 2, {1: 1}.get)  # a term-2 leader may lag: fine
    with pytest.raises(InvariantViolation, match="leader completeness"):
        c.on_leader(4, 3, {1: 1, 2: 3}.get)


def test_checker_flags_different_applied_entries():
    """Goal: two nodes applying different entries at one index is caught."""
    c = SafetyChecker()
    c.on_apply(1, 1, 1, "a", "h1")
    with pytest.raises(InvariantViolation, match="state-machine safety"):
        c.on_apply(2, 1, 1, "b", "h2")


def test_history_stale_read_is_not_linearizable():
    """Goal: the client history is judged by the linearizability checker: a
    read of an overwritten value after the overwrite completed fails, an
    `info` write may or may not have happened."""
    h = History()
    w1 = h.invoke(1, "put", "a", 1, None, "propose", 1, 0, 100)
    h.complete(w1, "ok", 10, 1)
    w2 = h.invoke(1, "put", "a", 2, None, "propose", 1, 20, 100)
    h.complete(w2, "ok", 30, 2)
    r = h.invoke(2, "get", "a", None, None, "read_index", 2, 40, 100)
    h.complete(r, "ok", 50, 1)
    assert h.check_linearizable().ok is False
    h2 = History()
    w = h2.invoke(1, "put", "a", 1, None, "propose", 1, 0, 100)
    h2.complete(w, "info", 10)
    r = h2.invoke(2, "get", "a", None, None, "read_index", 2, 40, 100)
    h2.complete(r, "ok", 50, ABSENT)
    r = h2.invoke(2, "get", "a", None, None, "read_index", 2, 60, 100)
    h2.complete(r, "ok", 70, 1)
    ops = h2.operations()
    assert math.isinf(ops[0].return_time)
    assert h2.check_linearizable().ok is True


def test_kv_applies_duplicated_proposals_once():
    """Goal: a command proposed once but appended twice (a duplicated
    message) changes the state once: the session dedups by op id."""
    kv = KvStateMachine()
    put = Command(1, 1, "put", "a", 5).encode()
    kv.apply(1, put)
    kv.apply(2, Command(2, 1, "put", "a", 6).encode())
    assert kv.apply(3, put).duplicate
    assert kv.read("a") == 6
    restored = KvStateMachine()
    restored.restore(kv.snapshot())
    assert restored.state_hash() == kv.state_hash() and restored.applied_index == 3


def test_network_partition_shapes():
    """Goal: partitions block exactly the intended directed links."""
    net = SimNetwork(random.Random(1))
    net.split([[1, 2], [3]])
    assert net.is_blocked(1, 3) and net.is_blocked(3, 2) and not net.is_blocked(1, 2)
    net.heal()
    net.one_way(1, 2)
    assert net.is_blocked(1, 2) and not net.is_blocked(2, 1)
    net.ring([1, 2, 3, 4, 5])
    assert not net.is_blocked(1, 2) and not net.is_blocked(1, 5) and net.is_blocked(1, 3)
    assert all(sum(not net.is_blocked(a, b) for b in range(1, 6) if b != a) == 2 for a in range(1, 6))
    assert net.route(1, 3, 0) == []


def test_network_drops_duplicates_and_bounds_delay():
    """Goal: the fault rates and delay bounds are honoured."""
    net = SimNetwork(random.Random(2), NetworkConfig(drop_rate=0.0, duplicate_rate=1.0,
                                                    delay_min_ms=5, delay_max_ms=9, delay_spike_rate=0.0))
    arrivals = net.route(1, 2, 100)
    assert len(arrivals) == 2 and all(105 <= t <= 109 for t in arrivals)
    lossy = SimNetwork(random.Random(3), NetworkConfig(drop_rate=1.0))
    assert all(lossy.route(1, 2, 0) == [] for _ in range(50))


def test_vopr_replays_a_seed_from_a_checkout():
    """Goal: scripts/vopr.py runs from a checkout (not an installed package)
    and exits 0 on a passing seed, printing its summary."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, os.path.join(root, "scripts", "vopr.py"), "--seed", "3", "--events", "300"],
        capture_output=True, text=True, timeout=120, cwd=os.path.dirname(root),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ok seed=3")


@pytest.mark.slow
def test_soak_many_seeds():
    """Goal: a long soak (RAFKA_SLOW=1): 2,000 more seeds with longer runs
    find no violation."""
    failures = []
    for seed in range(10_000, 12_000):
        try:
            Simulation(seed, SimConfig(nodes=3 if seed % 2 else 5, events_max=4000)).run()
        except SimFailure as exc:
            failures.append(f"{seed}: {exc.invariant}: {exc.detail}")
    assert not failures, "\n".join(failures[:10])
