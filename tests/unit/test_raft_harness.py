"""A tiny in-process Raft cluster over MemoryStorage for the raft unit tests:
a message router with cuttable links, a list-of-bytes state machine per node,
and helpers to tick and deliver until a condition holds (bounded)."""

from __future__ import annotations

import random
from collections import deque

import msgpack

from rafka.raft.config import RaftConfig
from rafka.raft.core import RaftCore
from rafka.raft.storage import MemoryStorage
from rafka.raft.types import ConfigState, EntryKind, Role


class Cluster:
    def __init__(
        self,
        n: int = 3,
        *,
        seed: int = 0,
        learners: tuple[int, ...] = (),
        extra: tuple[int, ...] = (),
        **cfg,
    ) -> None:
        self.cfg = RaftConfig(**{"election_timeout_ticks": 10, "heartbeat_ticks": 2, **cfg})
        self.seed = seed
        conf = ConfigState(frozenset(range(1, n + 1)), frozenset(learners))
        ids = list(range(1, n + 1)) + list(learners) + list(extra)
        self.storages = {i: MemoryStorage(conf if i not in extra else ConfigState()) for i in ids}
        self.nodes: dict[int, RaftCore] = {}
        self.applied: dict[int, list[bytes]] = {}
        self.read_states: dict[int, list] = {i: [] for i in ids}
        self.cut: set[tuple[int, int]] = set()
        self.down: set[int] = set()
        self.queue: deque = deque()
        self.sent: list = []
        for i in ids:
            self.start(i)

    def start(self, i: int) -> None:
        storage = self.storages[i]
        self.nodes[i] = RaftCore(i, self.cfg, storage, random.Random(self.seed * 1000 + i))
        snap = storage.snapshot()
        self.applied[i] = list(msgpack.unpackb(snap.data)) if snap.data else []
        self.down.discard(i)

    def add_node(self, i: int) -> None:
        self.storages[i] = MemoryStorage(ConfigState())
        self.read_states[i] = []
        self.start(i)

    def crash(self, i: int) -> None:
        self.down.add(i)

    def isolate(self, i: int) -> None:
        for j in self.nodes:
            if j != i:
                self.cut.add((i, j))
                self.cut.add((j, i))

    def heal(self) -> None:
        self.cut.clear()

    def process(self, i: int) -> None:
        core, storage = self.nodes[i], self.storages[i]
        while core.has_ready():
            rd = core.ready()
            if rd.snapshot is not None:
                storage.apply_snapshot(rd.snapshot)
                self.applied[i] = list(msgpack.unpackb(rd.snapshot.data))
            storage.append(rd.entries)
            if rd.hard_state is not None:
                storage.set_hard_state(rd.hard_state)
            self.queue.extend(rd.messages)
            self.sent.extend(rd.messages)
            for e in rd.committed_entries:
                if e.kind == EntryKind.NORMAL:
                    self.applied[i].append(e.data)
            self.read_states[i].extend(rd.read_states)
            core.advance(rd)

    def take_snapshot(self, i: int) -> None:
        core, storage = self.nodes[i], self.storages[i]
        applied = core.log.applied
        snap = core.compact(applied, msgpack.packb(self.applied[i]))
        storage.create_snapshot(snap)
        storage.compact(applied)

    def deliver(self, max_msgs: int = 100_000, drop=None, mutate=None) -> None:
        for i in self.nodes:
            if i not in self.down:
                self.process(i)
        n = 0
        while self.queue:
            n += 1
            assert n < max_msgs, "message storm"
            msg = self.queue.popleft()
            if msg.dst in self.down or (msg.src, msg.dst) in self.cut or msg.dst not in self.nodes:
                continue
            if drop is not None and drop(msg):
                continue
            if mutate is not None:
                msg = mutate(msg)
            self.nodes[msg.dst].step(msg)
            self.process(msg.dst)

    def tick(self, ids=None, n: int = 1) -> None:
        for _ in range(n):
            for i in ids if ids is not None else list(self.nodes):
                if i not in self.down:
                    self.nodes[i].tick()
            self.deliver()

    def run_until(self, pred, max_ticks: int = 500, ids=None) -> None:
        for _ in range(max_ticks):
            if pred():
                return
            self.tick(ids)
        assert pred(), "condition not reached within the tick budget"

    def leaders(self) -> list[int]:
        return [i for i, c in self.nodes.items() if c.role == Role.LEADER and i not in self.down]

    def leader(self) -> int | None:
        best = None
        for i in self.leaders():
            if best is None or self.nodes[i].term > self.nodes[best].term:
                best = i
        return best

    def elect(self, max_ticks: int = 500) -> int:
        self.run_until(lambda: self.leader() is not None and self._leader_committed(), max_ticks)
        return self.leader()

    def _leader_committed(self) -> bool:
        core = self.nodes[self.leader()]
        return core.log.match_term(core.log.committed, core.term)

    def propose(self, data: bytes) -> int:
        leader = self.leader()
        assert leader is not None
        idx = self.nodes[leader].propose(data)
        self.deliver()
        return idx


def test_harness_elects_a_single_leader():
    """Goal: the harness itself works — a 3-node cluster elects exactly one
    leader and every node learns it."""
    c = Cluster(3, seed=1)
    leader = c.elect()
    c.tick(n=3)
    assert c.leaders() == [leader]
    assert all(node.leader_id == leader for node in c.nodes.values())
