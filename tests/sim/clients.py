"""Simulated clients: a random key-value workload and its operation history.

Why: the end-of-run linearizability check needs a Jepsen-style history. Each
client has at most one operation in flight; an operation is `invoke`d, then
ends `ok` (the node applied it / a ReadIndex read was served), `fail` (it
surely did not happen: refused by a non-leader, or a cas whose expected value
did not match is recorded as ok with output False) or `info` (the node
crashed or the client timed out: it may or may not have happened; its return
time is infinity).

Invariants: op ids per client strictly increase; an op leaves `pending`
exactly once.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from tests.checkers.linearizability import Operation, kv_model, check, CheckResult
from tests.sim.kv import ABSENT, Command


@dataclass
class ClientOp:
    client_id: int
    op_id: int
    f: str  # put | get | cas
    key: str
    value: int | None
    expected: int | None
    via: str  # propose | read_index
    node: int
    invoke_ms: int
    deadline_ms: int
    status: str = "pending"  # pending | ok | fail | info
    output: object = None
    complete_ms: int | None = None
    index: int | None = None  # log index of the proposal, once known

    @property
    def command(self) -> Command:
        return Command(self.client_id, self.op_id, self.f, self.key, self.value, self.expected)

    @property
    def ctx(self) -> bytes:
        return f"{self.client_id}.{self.op_id}".encode()

    def describe(self) -> str:
        args = {"put": f"={self.value}", "get": "", "cas": f" {self.expected}->{self.value}"}[self.f]
        out = "" if self.status == "pending" else f" -> {self.status} {self.output!r}"
        return f"c{self.client_id}.{self.op_id} {self.f} {self.key}{args} via {self.via}@n{self.node}{out}"


@dataclass
class Workload:
    """Chooses operations; values are unique so every read names its write."""

    rng: random.Random
    keys: tuple[str, ...] = ("a", "b", "c")
    read_index_rate: float = 0.5
    next_value: int = 1
    written: dict[str, list[int]] = field(default_factory=dict)

    def choose(self) -> tuple[str, str, int | None, int | None, str]:
        """(f, key, value, expected, via) for a new operation."""
        key = self.rng.choice(self.keys)
        roll = self.rng.random()
        if roll < 0.4:
            value = self._fresh(key)
            return "put", key, value, None, "propose"
        if roll < 0.7:
            via = "read_index" if self.rng.random() < self.read_index_rate else "propose"
            return "get", key, None, None, via
        seen = self.written.get(key, [])
        expected = self.rng.choice(seen[-3:]) if seen and self.rng.random() < 0.8 else ABSENT
        return "cas", key, self._fresh(key), expected, "propose"

    def _fresh(self, key: str) -> int:
        value = self.next_value
        self.next_value += 1
        self.written.setdefault(key, []).append(value)
        return value


class History:
    """Every client operation of a run, in invoke order."""

    def __init__(self) -> None:
        self.ops: list[ClientOp] = []
        self.next_op_id: dict[int, int] = {}
        self.in_flight: dict[int, ClientOp] = {}

    def invoke(self, client_id: int, f: str, key: str, value, expected, via: str,
               node: int, now_ms: int, timeout_ms: int) -> ClientOp:
        if client_id in self.in_flight:
            raise ValueError(f"client {client_id} already has an operation in flight")
        op_id = self.next_op_id.get(client_id, 0) + 1
        self.next_op_id[client_id] = op_id
        op = ClientOp(client_id, op_id, f, key, value, expected, via, node, now_ms, now_ms + timeout_ms)
        self.ops.append(op)
        self.in_flight[client_id] = op
        return op

    def complete(self, op: ClientOp, status: str, now_ms: int, output=None) -> None:
        if op.status != "pending":
            raise ValueError(f"{op.describe()} completed twice")
        if status not in ("ok", "fail", "info"):
            raise ValueError(f"bad status {status!r}")
        op.status = status
        op.output = output
        op.complete_ms = now_ms
        self.in_flight.pop(op.client_id, None)

    def pending(self) -> list[ClientOp]:
        return list(self.in_flight.values())

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "fail": 0, "info": 0, "pending": 0}
        for op in self.ops:
            out[op.status] += 1
        return out

    def operations(self) -> list[Operation]:
        """The history in the checker's form: `fail` ops left out, `info`
        (and still pending) ops end at infinity with an unknown output."""
        result = []
        for op in self.ops:
            if op.status == "fail":
                continue
            if op.f == "put":
                inp = ("put", op.key, op.value)
            elif op.f == "get":
                inp = ("get", op.key)
            else:
                inp = ("cas", op.key, op.expected, op.value)
            if op.status == "ok":
                result.append(Operation(op.client_id, inp, op.invoke_ms, op.output, op.complete_ms))
            else:
                result.append(Operation(op.client_id, inp, op.invoke_ms, None, math.inf))
        return result

    def check_linearizable(self, timeout_s: float | None = 10.0) -> CheckResult:
        return check(kv_model(ABSENT), self.operations(), timeout_s)
