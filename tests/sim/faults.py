"""The fault schedule of a simulation (the "nemesis").

Why a separate module: the fault menu is what a simulator is judged by, and
it grows; keeping it apart keeps cluster.py about the event loop. Every
choice draws from the simulation's single seeded `random.Random`.

Faults (weights in FAULT_WEIGHTS): network partitions of several shapes
(halves, isolate one, one-way, majority ring, bridge, and the leader in a
minority), flipping back to an earlier partition, heal, network storms and
calm, crash (at once, or armed to fire at a crash point inside the next
durable write; half the crashes restart after a short downtime), restart,
log compaction (snapshot; the leader's half the time), membership changes
(add learner -> promote to voter -> remove voter), leadership transfer, and
the leader killer (crash or isolate the next new leader right after it wins).
Leader-targeted faults are what produce competing uncommitted tails from
different terms, the setting of Raft's subtlest bugs.

Invariants: the simulator asks for at most voters_max and at least
voters_min voters (the core may refuse a change); a spare node id joins at
most once; scheduled faults apply only to the node incarnation they name.
"""

from __future__ import annotations

from rafka.raft.errors import RaftError
from rafka.raft.types import ConfChangeKind
from tests.sim.node import CRASH_POINTS

FAULT_WEIGHTS = {
    "partition": 14,
    "repartition": 8,
    "heal": 12,
    "crash": 10,
    "restart": 14,
    "snapshot": 10,
    "membership": 8,
    "transfer": 4,
    "leader_killer": 6,
    "storm": 4,
    "calm": 4,
}


def random_fault(sim) -> None:
    names = list(FAULT_WEIGHTS)
    if not sim.cfg.snapshots:
        names.remove("snapshot")
    if not sim.cfg.membership:
        names.remove("membership")
    name = sim.rng.choices(names, weights=[FAULT_WEIGHTS[n] for n in names])[0]
    sim.faults[name] = sim.faults.get(name, 0) + 1
    globals()["_fault_" + name](sim)


def _log(sim, node, what: str) -> None:
    sim.trace.add(sim.now_ms, node, "fault", what)


def _fault_partition(sim) -> None:
    members = sorted(sim.nodes)
    leader = sim.leader()
    if leader is not None and sim.rng.random() < 0.4:
        # isolate the leader, maybe with one companion, in a minority
        others = [n for n in members if n != leader.node_id]
        sim.rng.shuffle(others)
        minority = [leader.node_id] + others[: sim.rng.randint(0, max(0, len(members) // 2 - 1))]
        sim.network.split([minority, [n for n in members if n not in minority]])
        _log(sim, None, f"partition (leader n{leader.node_id} in minority) {sim.network.description}")
        if sim.rng.random() < 0.5:
            # ambush: isolate the majority's new leader the moment it wins,
            # then flip back to this partition a little later
            sim.leader_killer_ms, sim.leader_killer_isolates = 0, True
            sim.leader_killer_flip = True
            # no other fault until the ambush played out (bounded)
            sim.ambush_until_ms = sim.now_ms + 20 * sim.cfg.tick_ms * sim.cfg.election_timeout_ticks
            _log(sim, None, "ambush the majority's next new leader")
        return
    _log(sim, None, "partition " + sim.network.random_partition(members))


def _fault_leader_killer(sim) -> None:
    sim.leader_killer_ms = sim.rng.choice([0, sim.rng.randint(0, 3 * sim.cfg.tick_ms * sim.cfg.heartbeat_ticks)])
    sim.leader_killer_isolates = sim.rng.random() < 0.5
    how = "isolate" if sim.leader_killer_isolates else "crash"
    _log(sim, None, f"leader killer: {how} the next new leader {sim.leader_killer_ms} ms after it wins")


def _fault_repartition(sim) -> None:
    description = sim.network.restore_previous()
    if description is not None:
        _log(sim, None, f"partition again: {description}")


def _fault_heal(sim) -> None:
    sim.network.heal()
    _log(sim, None, "heal network")


def _fault_storm(sim) -> None:
    net = sim.network.config
    net.drop_rate = sim.rng.choice([0.2, 0.4])
    net.duplicate_rate = sim.rng.choice([0.1, 0.3])
    net.delay_spike_rate = 0.1
    _log(sim, None, f"storm drop={net.drop_rate} dup={net.duplicate_rate}")


def _fault_calm(sim) -> None:
    net = sim.network.config
    base = sim.cfg.network
    net.drop_rate, net.duplicate_rate = base.drop_rate, base.duplicate_rate
    net.delay_spike_rate = base.delay_spike_rate
    _log(sim, None, "calm network")


def _fault_crash(sim) -> None:
    alive = [n for n in sim.nodes.values() if n.alive]
    if not alive:
        return
    leader = sim.leader()
    node = leader if leader is not None and sim.rng.random() < 0.3 else sim.rng.choice(alive)
    bounce_ms = None
    if sim.rng.random() < 0.5:
        # a supervisor restarts it soon: short outages race with elections
        bounce_ms = sim.rng.randint(1, sim.cfg.tick_ms * sim.cfg.election_timeout_ticks)
    if node.disk is not None and sim.cfg.crash_points and sim.rng.random() < 0.4:
        # disk storage only: the crash lands inside the file layer, at the
        # n-th file operation from now (in append, sync, a truncation, ...)
        if bounce_ms is not None:
            node.bounce_ms = bounce_ms
        where = node.disk.arm(sim.rng)
        _log(sim, node.node_id, f"arm crash inside the file layer at {where}")
        return
    point = None
    if sim.cfg.crash_points and sim.rng.random() < 0.5:
        point = sim.rng.choice(CRASH_POINTS)
        if point == "after_early_send" and leader is not None:
            node = leader  # only a leader sends before persisting
    if bounce_ms is not None:
        node.bounce_ms = bounce_ms
    if point is not None:
        node.crash_point = point
        bounce = "" if node.bounce_ms is None else f", restart {node.bounce_ms} ms later"
        _log(sim, node.node_id, f"arm crash at {node.crash_point}{bounce}")
        return
    node.crash("crash (between writes)")
    sim._lost(node)


def _fault_restart(sim) -> None:
    down = [n for n in sim.nodes.values() if not n.alive]
    if not down:
        return
    node = sim.rng.choice(down)
    restart(sim, node)


def restart(sim, node) -> None:
    node.start()
    sim.drain(node)
    sim.schedule_tick(node, sim.rng.randrange(sim.cfg.tick_ms) + 1)


def _fault_snapshot(sim) -> None:
    alive = [n for n in sim.nodes.values() if n.alive]
    if not alive:
        return
    leader = sim.leader()
    # compacting the leader is what forces snapshot installs on laggards
    node = leader if leader is not None and sim.rng.random() < 0.5 else sim.rng.choice(alive)
    node.take_snapshot(keep_entries=sim.rng.choice([0, 0, 2, 10]))
    if not node.alive:  # on disk, an armed crash may fire inside the snapshot's writes
        sim._lost(node)


def _fault_transfer(sim) -> None:
    leader = sim.leader()
    if leader is None:
        return
    targets = sorted(v for v in leader.core.voters if v != leader.node_id)
    if not targets:
        return
    target = sim.rng.choice(targets)
    try:
        leader.core.transfer_leadership(target)
    except RaftError as exc:
        _log(sim, leader.node_id, f"transfer to n{target} refused: {exc}")
        return
    sim.trace.add(sim.now_ms, leader.node_id, "transfer", f"transfer leadership to n{target}")
    sim.drain(leader)


def _fault_membership(sim) -> None:
    """One step of add learner -> promote -> remove voter, via the leader."""
    leader = sim.leader()
    if leader is None:
        return
    core = leader.core
    voters, learners = set(core.voters), set(core.learners)
    options = []
    if learners and len(voters) < sim.cfg.voters_max:
        options.append((ConfChangeKind.ADD_VOTER, sim.rng.choice(sorted(learners))))
    if not learners and sim.spares and len(voters) < sim.cfg.voters_max:
        options.append((ConfChangeKind.ADD_LEARNER, sim.spares[0]))
    if len(voters) > sim.cfg.voters_min:
        options.append((ConfChangeKind.REMOVE_VOTER, sim.rng.choice(sorted(voters))))
    if not options:
        return
    kind, nid = sim.rng.choice(options)
    try:
        core.propose_conf_change(kind, nid)
    except RaftError as exc:
        _log(sim, leader.node_id, f"{kind.value} n{nid} refused: {exc}")
        return
    sim.trace.add(sim.now_ms, leader.node_id, kind.value, f"propose {kind.value} n{nid}")
    if kind == ConfChangeKind.ADD_LEARNER:
        sim.spares.remove(nid)
        sim.add_node(nid, frozenset())
    elif kind == ConfChangeKind.REMOVE_VOTER:
        sim.removed.add(nid)
    sim.drain(leader)


def heal_all(sim) -> None:
    """End of the fault phase: heal the network, calm it, restart every node."""
    sim.network.heal()
    sim.network.faulty = False
    _fault_calm(sim)
    for node in sim.nodes.values():
        node.crash_point = None
        if node.disk is not None:
            node.disk.fs.disarm()
        if not node.alive:
            restart(sim, node)
    _log(sim, None, "heal all: network healed, every node running")


# -- faults scheduled for a later instant ------------------------------------------


def scheduled(sim, kind: str, payload) -> None:
    """Run a fault event from the queue: the periodic fault draw, or a crash,
    isolation or restart scheduled earlier for one incarnation of a node."""
    if kind == "fault":
        if sim.in_fault_phase and sim.now_ms >= sim.ambush_until_ms:
            random_fault(sim)
            sim.schedule(sim.now_ms + sim._fault_delay(), "fault", None)
        return
    if kind == "flip":
        if sim.in_fault_phase:
            sim.network.restore(*payload)
            sim.ambush_until_ms = 0
            _log(sim, None, f"flip back to: {payload[1]}")
        return
    nid, incarnation = payload
    node = sim.nodes[nid]
    if node.incarnation != incarnation or not sim.in_fault_phase:
        return
    if kind == "crash" and node.alive:
        if sim.rng.random() < 0.5:
            node.bounce_ms = sim.rng.randint(1, sim.cfg.tick_ms * sim.cfg.election_timeout_ticks)
        node.crash("leader killer")
        sim._lost(node)
    elif kind == "isolate" and node.alive:
        before = (frozenset(sim.network.blocked), sim.network.description)
        sim.network.split([[nid], [n for n in sorted(sim.nodes) if n != nid]])
        _log(sim, nid, f"leader killer: isolate new leader n{nid}")
        ambush, sim.leader_killer_flip = sim.leader_killer_flip, False
        if before[0] and ambush:
            # the partition before the isolation comes back soon after the
            # rest elects a leader (cluster._on_new_leader schedules it)
            sim.flip_on_next_leader = before
        elif before[0] and sim.rng.random() < 0.5:
            # flapping: the partition before the isolation comes back later
            window = sim.cfg.tick_ms * sim.cfg.election_timeout_ticks
            sim.schedule(sim.now_ms + sim.rng.randint(sim.cfg.tick_ms, 4 * window), "flip", before)
    elif kind == "restart" and not node.alive:
        restart(sim, node)
