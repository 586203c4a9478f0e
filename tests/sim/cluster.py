"""The deterministic cluster simulation: event queue, logical clock, nodes,
network, clients and faults, all driven by one seed.

Why: Raft bugs hide in rare interleavings. One `random.Random(seed)` drives
every choice — network fates, fault schedule, client workload, and the cores'
own election jitter — so a failing seed replays exactly, and thousands of
seeds can be soaked quickly in one process.

A run has two phases. In the fault phase (bounded by `events_max` and
`fault_phase_ms`) clients issue operations while faults fire. Then the run
heals everything (network, crashed nodes) and demands progress: a leader is
elected and a fresh proposal commits within `progress_ms_max`. Safety
invariants are checked after every event (tests.sim.invariants); at the end
the client history must be linearizable (tests.checkers.linearizability).

Time is integer milliseconds on a logical clock; nodes tick every `tick_ms`
(each with its own phase). Events are (time, seq, kind, payload) in a heap,
seq making ties deterministic.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Callable

from rafka.raft.config import RaftConfig
from rafka.raft.types import Role
from tests.sim.client_driver import ClientDriver
from tests.sim.clients import History, Workload
from tests.sim.invariants import InvariantViolation, SafetyChecker
from tests.sim.network import NetworkConfig, SimNetwork
from tests.sim.node import SimDisk, SimNode
from tests.sim.trace import Trace

TICK, DELIVER, CLIENT, DEADLINE, FAULT, RESTART, CRASH, ISOLATE, FLIP = (
    "tick", "deliver", "client", "deadline", "fault", "restart", "crash", "isolate", "flip")


@dataclass
class SimConfig:
    """Every bound of one run; `*_max` settings bound queues and run length."""

    nodes: int = 3
    spare_nodes: int = 2  # ids that may join later as learners
    voters_min: int = 3
    voters_max: int = 5
    tick_ms: int = 10
    election_timeout_ticks: int = 10
    heartbeat_ticks: int = 2
    msg_bytes_max: int = 4096
    inflight_msgs_max: int = 16
    # Draw timing and size settings per seed (see Simulation._draw_profile),
    # so the sweep covers tight and loose timeouts, small and large messages.
    randomize_profile: bool = True
    events_max: int = 3000  # events of the fault phase
    fault_phase_ms: int = 6000
    progress_ms_max: int = 20_000
    clients: int = 3
    client_timeout_ms: int = 600
    client_think_ms_max: int = 60
    fault_interval_ms: tuple[int, int] = (50, 400)
    crash_points: bool = True
    snapshots: bool = True
    membership: bool = True
    in_flight_max: int = 20_000  # bound on the event queue
    trace_events_max: int = 300
    linearizability_timeout_s: float = 10.0
    network: NetworkConfig = field(default_factory=NetworkConfig)
    # "memory": MemoryStorage is the disk; "disk": the real DiskStorage over
    # a CrashFs per node (tests/sim/node.py), losing what was not fsynced
    storage: str = "memory"
    disk_segment_bytes_max: int = 4096  # small, so rolls and multi-segment truncations happen
    disk_torn_rate: float = 0.3

    def raft_config(self) -> RaftConfig:
        return RaftConfig(
            election_timeout_ticks=self.election_timeout_ticks,
            heartbeat_ticks=self.heartbeat_ticks,
            inflight_msgs_max=self.inflight_msgs_max,
            msg_bytes_max=self.msg_bytes_max,
            snapshot_chunk_bytes=256,
        )


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame of an exception (for one-line reports)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 2)[-2:]!s}:{last.lineno}"


class SimFailure(Exception):
    """A run broke an invariant. The message holds the seed, the violated
    invariant and the last trace lines, ready to print."""

    def __init__(self, seed: int, invariant: str, detail: str, trace: str):
        self.seed, self.invariant, self.detail, self.trace = seed, invariant, detail, trace
        super().__init__(
            f"seed {seed}: {invariant} violated: {detail}\n--- last events ---\n{trace}\n"
            f"--- replay: python scripts/vopr.py --seed {seed} --trace"
        )


@dataclass
class SimResult:
    seed: int
    nodes: int
    events: int
    time_ms: int
    leaders: int
    ops: dict[str, int]
    faults: dict[str, int]
    tally: dict[str, int]
    linearizable: bool | None  # None: the checker timed out (unknown)


class Simulation:
    def __init__(self, seed: int, config: SimConfig | None = None,
                 echo: Callable[[str], None] | None = None):
        self.seed = seed
        self.cfg = config or SimConfig()
        self.rng = random.Random(seed)
        if self.cfg.randomize_profile:
            self.cfg = self._draw_profile(self.cfg)
        self.now_ms = 0
        self.events = 0
        self._seq = 0
        self.queue: list[tuple] = []
        self.trace = Trace(self.cfg.trace_events_max, echo)
        self.checker = SafetyChecker()
        self.network = SimNetwork(self.rng, NetworkConfig(**vars(self.cfg.network)))
        self.history = History()
        self.workload = Workload(self.rng)
        self.faults: dict[str, int] = {}
        self.in_fault_phase = True
        self.raft_config = self.cfg.raft_config()
        self.trace.add(0, None, "profile", self.describe_profile())
        self.nodes: dict[int, SimNode] = {}
        self.spares = list(range(self.cfg.nodes + 1, self.cfg.nodes + self.cfg.spare_nodes + 1))
        self.removed: set[int] = set()
        self.clients = ClientDriver(self)
        self.leader_killer_ms: int | None = None
        self.leader_killer_isolates = False
        self.leader_killer_flip = False
        self.flip_on_next_leader: tuple | None = None  # (blocked, description)
        self.ambush_until_ms = 0  # random faults pause while an ambush plays out
        self.linearizable: bool | None = None
        voters = frozenset(range(1, self.cfg.nodes + 1))
        for nid in sorted(voters):
            self.add_node(nid, voters)

    # -- setup -------------------------------------------------------------

    def _draw_profile(self, cfg: SimConfig) -> SimConfig:
        """A copy of `cfg` with timing and size settings drawn from the seed.
        Tight election timeouts against slow links provoke split votes and
        competing candidates; small messages and windows split a backlog so a
        leader's match index walks through older terms' entries one by one;
        more clients grow longer uncommitted tails on isolated leaders."""
        import dataclasses

        rng = self.rng
        election = rng.choice([4, 6, 10, 15])
        net = dataclasses.replace(cfg.network, delay_max_ms=rng.choice([10, 30, 60]))
        drawn = dataclasses.replace(
            cfg,
            election_timeout_ticks=election,
            heartbeat_ticks=rng.choice([1, 2]) if election > 4 else 1,
            msg_bytes_max=rng.choice([64, 256, 4096]),
            inflight_msgs_max=rng.choice([1, 2, 16]),
            clients=rng.choice([3, 6]),
            fault_interval_ms=rng.choice([(50, 400), (20, 200)]),
            network=net,
        )
        if cfg.storage == "disk":  # drawn last: memory-storage seeds replay unchanged
            drawn = dataclasses.replace(drawn, disk_segment_bytes_max=rng.choice([512, 4096, 1 << 20]))
        return drawn

    def describe_profile(self) -> str:
        c = self.cfg
        return (f"seed={self.seed} nodes={c.nodes} election_timeout_ticks={c.election_timeout_ticks} "
                f"heartbeat_ticks={c.heartbeat_ticks} tick_ms={c.tick_ms} msg_bytes_max={c.msg_bytes_max} "
                f"inflight_msgs_max={c.inflight_msgs_max} delay_max_ms={c.network.delay_max_ms} "
                f"clients={c.clients} fault_interval_ms={c.fault_interval_ms}")

    def add_node(self, nid: int, voters: frozenset[int]) -> SimNode:
        disk = None
        if self.cfg.storage == "disk":
            from rafka.log.config import LogConfig

            log_config = LogConfig(segment_bytes_max=self.cfg.disk_segment_bytes_max, batch_bytes_max=64 << 20,
                                   retention_ms=-1, retention_bytes=-1, index_interval_bytes=256)
            disk = SimDisk(nid, log_config, torn_rate=self.cfg.disk_torn_rate)
        node = SimNode.bootstrap(
            nid, voters, disk=disk, raft_config=self.raft_config, rng=self.rng, checker=self.checker,
            trace=self.trace, now=lambda: self.now_ms,
        )
        node.on_apply = self.clients.on_apply
        node.on_new_leader = self._on_new_leader
        node.on_read_state = self.clients.on_read_state
        self.nodes[nid] = node
        self.schedule_tick(node, self.rng.randrange(self.cfg.tick_ms) + 1)
        return node

    def schedule(self, at_ms: int, kind: str, payload) -> None:
        if len(self.queue) >= self.cfg.in_flight_max and kind == DELIVER:
            return  # the bounded network is full: the message is lost
        self._seq += 1
        heapq.heappush(self.queue, (at_ms, self._seq, kind, payload))

    def schedule_tick(self, node: SimNode, delay_ms: int) -> None:
        self.schedule(self.now_ms + delay_ms, TICK, (node.node_id, node.incarnation))

    def drain(self, node: SimNode) -> None:
        """Handle the node's Readies; if it crashed doing so, its clients' ops end."""
        node.drain(self.send)
        if not node.alive:
            self._lost(node)

    def send(self, msg) -> None:
        for at in self.network.route(msg.src, msg.dst, self.now_ms):
            self.schedule(at, DELIVER, msg)

    # -- running -------------------------------------------------------------

    def run(self) -> SimResult:
        """Run both phases; raises SimFailure on any violation."""
        try:
            for cid in range(1, self.cfg.clients + 1):
                self.schedule(self.rng.randrange(50), CLIENT, cid)
            self.schedule(self._fault_delay(), FAULT, None)
            while self.queue and self.in_fault_phase:
                if self.events >= self.cfg.events_max or self.now_ms >= self.cfg.fault_phase_ms:
                    break
                self.step_event()
            self.in_fault_phase = False
            from tests.sim.faults import heal_all
            heal_all(self)
            self.await_progress()
            self.clients.finish()
            self.check_history()
        except InvariantViolation as exc:
            raise SimFailure(self.seed, exc.invariant, exc.detail, self.trace.render()) from None
        except AssertionError as exc:
            # an invariant asserted inside the core (or the simulator) broke
            detail = f"{exc} at {_where(exc)}"
            raise SimFailure(self.seed, "assertion", detail, self.trace.render()) from exc
        except SimFailure:
            raise
        except Exception as exc:
            # e.g. a storage error inside persist: the real driver would die there
            detail = f"{type(exc).__name__}: {exc} at {_where(exc)}"
            raise SimFailure(self.seed, "exception", detail, self.trace.render()) from exc
        leaders = len(self.checker.leader_of_term)
        return SimResult(self.seed, self.cfg.nodes, self.events, self.now_ms, leaders,
                         self.history.counts(), dict(self.faults), dict(self.trace.tally),
                         self.linearizable)

    def run_until(self, predicate: Callable[[], bool], within_ms: int) -> bool:
        """Step events until `predicate()` holds (True) or `within_ms` of
        logical time pass (False). Invariants are checked as usual; for
        targeted scenarios that drive the simulation by hand."""
        deadline = self.now_ms + within_ms
        while not predicate():
            if not self.queue or self.queue[0][0] > deadline:
                return False
            self.step_event()
        return True

    def step_event(self) -> None:
        at, _, kind, payload = heapq.heappop(self.queue)
        self.now_ms = max(self.now_ms, at)
        self.events += 1
        if kind == TICK:
            nid, incarnation = payload
            node = self.nodes.get(nid)
            if node is None or node.incarnation != incarnation or not node.alive:
                return
            node.core.tick()
            self.drain(node)
            if node.alive:
                self.schedule_tick(node, self.cfg.tick_ms)
        elif kind == DELIVER:
            msg = payload
            node = self.nodes.get(msg.dst)
            if node is None or not node.alive or self.network.is_blocked(msg.src, msg.dst):
                return
            self.trace.add(self.now_ms, msg.dst, "deliver", msg)
            node.core.step(msg)
            self.drain(node)
        elif kind == CLIENT:
            self.clients.invoke(payload)
        elif kind == DEADLINE:
            self.clients.deadline(payload)
        elif kind in (CRASH, ISOLATE, RESTART, FAULT, FLIP):
            from tests.sim import faults

            faults.scheduled(self, kind, payload)

    def _fault_delay(self) -> int:
        lo, hi = self.cfg.fault_interval_ms
        return self.rng.randint(lo, hi)

    # -- clients and crashes ------------------------------------------------------

    def _lost(self, node: SimNode) -> None:
        """A node crashed: its clients' in-flight operations become `info`;
        a node set to bounce is restarted after its downtime."""
        if node.bounce_ms is not None:
            self.schedule(self.now_ms + node.bounce_ms, RESTART, (node.node_id, node.incarnation))
            node.bounce_ms = None
        self.clients.node_lost(node)

    def _on_new_leader(self, node: SimNode) -> None:
        """A leader-killer fault crashes or isolates the next new leader soon
        after it wins (0 ms: before its first appends arrive), leaving its
        fresh entries on a minority (the Raft paper's Figure 8 setting); after
        an ambush, the partition from before comes back shortly after the
        next leader wins, while it is still catching followers up."""
        if self.leader_killer_ms is not None and self.in_fault_phase:
            kind = ISOLATE if self.leader_killer_isolates else CRASH
            self.schedule(self.now_ms + self.leader_killer_ms, kind, (node.node_id, node.incarnation))
            self.leader_killer_ms = None
        elif self.flip_on_next_leader is not None and self.in_fault_phase:
            # flip back while the new leader is still catching followers up
            delay = self.rng.randint(0, 10 * self.cfg.tick_ms)
            self.schedule(self.now_ms + delay, FLIP, self.flip_on_next_leader)
            self.flip_on_next_leader = None

    # -- the end of the run ------------------------------------------------------

    def leader(self) -> SimNode | None:
        best = None
        for node in self.nodes.values():
            if node.alive and node.core.role == Role.LEADER:
                if best is None or node.core.term > best.core.term:
                    best = node
        return best

    def await_progress(self) -> None:
        """After healing: a leader must be elected and commit a new entry."""
        from tests.sim.kv import Command
        deadline = self.now_ms + self.cfg.progress_ms_max
        probe = Command(0, 1, "get", "_probe").encode()
        proposed: tuple[int, int, int] | None = None
        while self.now_ms < deadline and self.queue:
            leader = self.leader()
            if leader is not None:
                if proposed is not None and proposed[::2] == (leader.node_id, leader.core.term):
                    if leader.kv.applied_index >= proposed[1]:
                        self.trace.add(self.now_ms, leader.node_id, "progress",
                                       f"probe committed at {proposed[1]}")
                        return
                else:
                    try:
                        index = leader.core.propose(probe)
                    except Exception:  # not leader any more / dropped: retry later
                        index = None
                    if index is not None:
                        proposed = (leader.node_id, index, leader.core.term)
                        self.drain(leader)
            self.step_event()
        raise InvariantViolation(
            "liveness",
            f"no leader committed a new entry within {self.cfg.progress_ms_max} ms after healing",
        )

    def check_history(self) -> None:
        result = self.history.check_linearizable(self.cfg.linearizability_timeout_s)
        self.linearizable = result.ok  # None: the checker ran out of time
        if result.ok is False:
            raise InvariantViolation("linearizability", result.message)
