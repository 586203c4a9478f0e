"""Drives the simulated clients against the cluster and records their history.

Why apart from cluster.py: the client side has its own bookkeeping (which
proposal index or ReadIndex ctx belongs to which operation, and which node
answers it) and its own rules for outcomes:

- propose: `ok` when the node the client talked to applies the client's
  entry at the promised index; `fail` when it applies a different entry
  there (the proposal was overwritten and, being proposed once, never
  happens) or when the node refuses (not leader, dropped);
- read_index: `ok` once that node's state machine reached the read index;
- `info` when the node crashes or the client's deadline passes.

Invariants: each in-flight op is in exactly one of pending_proposals,
pending_reads or waiting_reads (or none, once completed).
"""

from __future__ import annotations

from rafka.raft.errors import RaftError
from rafka.raft.types import Role


class ClientDriver:
    def __init__(self, sim) -> None:
        self.sim = sim
        self.pending_proposals: dict[tuple[int, int], object] = {}  # (node, index) -> ClientOp
        self.pending_reads: dict[tuple[int, bytes], object] = {}  # (node, ctx) -> ClientOp
        self.waiting_reads: list = []  # read index known, waiting for apply
        self.leader_hint: dict[int, int] = {}

    def invoke(self, client_id: int) -> None:
        """A client starts its next operation against a node it believes leads."""
        sim = self.sim
        if not sim.in_fault_phase or client_id in sim.history.in_flight:
            return
        alive = sorted(n for n, node in sim.nodes.items() if node.alive)
        if not alive:
            sim.schedule(sim.now_ms + sim.cfg.client_think_ms_max, "client", client_id)
            return
        hint = self.leader_hint.get(client_id)
        target = hint if hint in alive and sim.rng.random() < 0.85 else sim.rng.choice(alive)
        f, key, value, expected, via = sim.workload.choose()
        op = sim.history.invoke(client_id, f, key, value, expected, via, target,
                                sim.now_ms, sim.cfg.client_timeout_ms)
        sim.trace.add(sim.now_ms, target, "client-invoke", op.describe())
        node = sim.nodes[target]
        try:
            if via == "read_index":
                self.pending_reads[(target, op.ctx)] = op
                node.core.read_index(op.ctx)
            else:
                op.index = node.core.propose(op.command.encode())
                self.pending_proposals[(target, op.index)] = op
        except RaftError as exc:
            leader_id = getattr(exc, "leader_id", None)
            if leader_id is not None:
                self.leader_hint[client_id] = leader_id
            elif node.core.role != Role.LEADER:
                self.leader_hint.pop(client_id, None)
            self.complete(op, "fail", type(exc).__name__)
            return
        sim.schedule(op.deadline_ms, "deadline", op)
        sim.drain(node)

    def complete(self, op, status: str, why: str, output=None) -> None:
        sim = self.sim
        sim.history.complete(op, status, sim.now_ms, output)
        sim.trace.add(sim.now_ms, op.node, "client-" + status, f"{op.describe()} ({why})")
        self.pending_proposals.pop((op.node, op.index), None)
        self.pending_reads.pop((op.node, op.ctx), None)
        if sim.in_fault_phase:
            think = sim.rng.randint(1, sim.cfg.client_think_ms_max)
            if status == "fail":  # back off: the cluster is probably electing
                think += sim.rng.randint(sim.cfg.client_think_ms_max, 4 * sim.cfg.client_think_ms_max)
            sim.schedule(sim.now_ms + think, "client", op.client_id)

    def deadline(self, op) -> None:
        if op.status == "pending":
            self.complete(op, "info", "timeout")

    def node_lost(self, node) -> None:
        """A node crashed: operations it was serving become `info`."""
        for op in list(self.sim.history.pending()):
            if op.node == node.node_id:
                self.complete(op, "info", "node crashed")

    def on_apply(self, node, entry, outcome) -> None:
        op = self.pending_proposals.get((node.node_id, entry.index))
        if op is not None:
            if entry.data == op.command.encode():
                output = outcome.ok if op.f == "cas" else outcome.value
                self.complete(op, "ok", "applied", output)
            else:
                self.complete(op, "fail", f"index {entry.index} holds another entry")
        if self.waiting_reads:
            self._serve_reads(node)

    def on_read_state(self, node, rs) -> None:
        op = self.pending_reads.pop((node.node_id, rs.request_ctx), None)
        if op is None or op.status != "pending":
            return
        op.index = rs.index
        self.waiting_reads.append(op)
        self._serve_reads(node)

    def _serve_reads(self, node) -> None:
        keep = []
        for op in self.waiting_reads:
            if op.status != "pending":
                continue
            if op.node == node.node_id and node.alive and node.kv.applied_index >= op.index:
                self.complete(op, "ok", f"read index {op.index}", node.kv.read(op.key))
            else:
                keep.append(op)
        self.waiting_reads = keep

    def finish(self) -> None:
        for op in self.sim.history.pending():
            self.complete(op, "info", "run ended")
