"""A linearizability checker (Wing & Gong's search with Lowe's memoisation,
as popularised by Porcupine), with pluggable sequential models.

Why this shape: a history is linearizable when every operation can be given a
single instant between its call and its return such that, applied in that
order, the sequential model produces every observed output. The search walks
an entry list (calls and returns sorted by time); at each step it tries to
linearize a pending call whose call entry precedes the first unmatched return.
Reaching a return entry means the op it belongs to should already have been
linearized, so the search backtracks. A cache of (linearized-set, state) pairs
prunes states already shown to be dead ends, which keeps most real histories
near-linear. Models may split a history into independent partitions (one per
key for a key-value store); each is checked on its own, which is both faster
and sound because linearizability is compositional (Herlihy & Wing).

Conventions:
- A crashed or indeterminate operation (Jepsen's `info`) has
  `return_time = math.inf` and `output = None`; a model's `step` must accept
  `output=None` as "any output". Such an op may be linearized at any point
  after its call, including after every other op (i.e. it never happened).
- Operations known to have failed (Jepsen's `fail`) must be left out by the
  caller: they did not happen.
- Model states must be hashable (they go into the cache).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

# How often (in search steps) the deadline is looked at.
_DEADLINE_CHECK_STEPS = 2048


@dataclass(frozen=True)
class Operation:
    """One operation of a history. `return_time` is `math.inf` when the
    outcome is unknown (then `output` should be None)."""

    client_id: Any
    input: Any
    call_time: float
    output: Any
    return_time: float

    def __post_init__(self) -> None:
        if not (self.return_time >= self.call_time):
            raise ValueError(
                f"operation returns before it is called: call={self.call_time} "
                f"return={self.return_time}"
            )

    @property
    def is_info(self) -> bool:
        return math.isinf(self.return_time)


@dataclass(frozen=True)
class Model:
    """A sequential specification.

    `init()` gives the initial state; `step(state, input, output)` returns
    `(ok, new_state)`, where ok says whether `output` is a legal result of
    applying `input` in `state` (`output=None` means any result is legal).
    `partition(ops)` optionally splits a history into independently checkable
    sub-histories. `describe(input, output)` renders an op for reports.
    """

    init: Callable[[], Any]
    step: Callable[[Any, Any, Any], tuple[bool, Any]]
    partition: Callable[[list[Operation]], list[list[Operation]]] | None = None
    describe: Callable[[Any, Any], str] | None = None
    name: str = "model"

    def describe_op(self, op: Operation) -> str:
        if self.describe is not None:
            return self.describe(op.input, op.output)
        return f"{op.input!r} -> {op.output!r}"


@dataclass
class CheckResult:
    """The verdict. `ok` is True (linearizable), False (not), or None (the
    search ran out of time; nothing is known). When `ok` is False,
    `counterexample` holds the ops of the failing partition,
    `partial_linearization` the longest prefix order the search found for it
    and `final_state` the model state after that prefix."""

    ok: bool | None
    partitions: int = 0
    counterexample: list[Operation] = field(default_factory=list)
    partial_linearization: list[Operation] = field(default_factory=list)
    final_state: Any = None
    stuck_ops: list[Operation] = field(default_factory=list)
    message: str = ""

    def to_json(self, model: Model | None = None) -> dict:
        """A JSON-friendly report (ops rendered with the model's describe)."""

        def render(op: Operation) -> dict:
            return {
                "client": op.client_id,
                "op": model.describe_op(op) if model else f"{op.input!r} -> {op.output!r}",
                "call": op.call_time,
                "return": None if op.is_info else op.return_time,
            }

        return {
            "ok": self.ok,
            "partitions": self.partitions,
            "message": self.message,
            "partial_linearization": [render(o) for o in self.partial_linearization],
            "final_state": repr(self.final_state),
            "stuck_ops": [render(o) for o in self.stuck_ops],
            "counterexample_size": len(self.counterexample),
        }


class _Timeout(Exception):
    pass


def check(
    model: Model,
    ops: Sequence[Operation],
    timeout_s: float | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> CheckResult:
    """Decide whether `ops` is linearizable with respect to `model`.

    `timeout_s` bounds the whole search (None: unbounded); `clock` is
    injectable for tests. Returns a CheckResult (ok None on timeout).
    """
    ops = list(ops)
    parts = model.partition(ops) if model.partition is not None else [ops]
    deadline = None if timeout_s is None else clock() + timeout_s
    timed_out = False
    for part in parts:
        if not part:
            continue
        try:
            result = _check_partition(model, part, deadline, clock)
        except _Timeout:
            timed_out = True
            continue
        if result is not None:
            result.partitions = len(parts)
            return result
    if timed_out:
        return CheckResult(ok=None, partitions=len(parts), message="timed out")
    return CheckResult(ok=True, partitions=len(parts), message="linearizable")


def _check_partition(
    model: Model,
    ops: list[Operation],
    deadline: float | None,
    clock: Callable[[], float],
) -> CheckResult | None:
    """Search one partition. Returns None when linearizable, a failing
    CheckResult otherwise; raises _Timeout past the deadline.

    Entry list as arrays: entry 2*i is op i's call, 2*i+1 its return;
    node 0 of `nxt`/`prv` is a head sentinel, entry e lives at node e+1.
    """
    n = len(ops)
    entries = []
    for i, op in enumerate(ops):
        # ties: calls before returns, so ops touching at an instant count as
        # concurrent (the lenient reading; never flags a valid history)
        entries.append((op.call_time, 0, i, 2 * i))
        entries.append((op.return_time, 1, i, 2 * i + 1))
    entries.sort()
    order = [e[3] for e in entries]
    size = 2 * n + 1
    nxt = [-1] * size
    prv = [-1] * size
    prev_node = 0
    for e in order:
        node = e + 1
        nxt[prev_node] = node
        prv[node] = prev_node
        prev_node = node
    nxt[prev_node] = -1

    def lift(i: int) -> None:
        for node in (2 * i + 1, 2 * i + 2):
            p, q = prv[node], nxt[node]
            nxt[p] = q
            if q != -1:
                prv[q] = p

    def unlift(i: int) -> None:
        for node in (2 * i + 2, 2 * i + 1):
            p, q = prv[node], nxt[node]
            nxt[p] = node
            if q != -1:
                prv[q] = node

    state = model.init()
    linearized = 0
    cache: set[tuple[int, Any]] = set()
    stack: list[tuple[int, Any]] = []  # (op index, state before it)
    best: list[int] = []
    best_state = state
    steps = 0
    node = nxt[0]
    while nxt[0] != -1:
        steps += 1
        if deadline is not None and steps % _DEADLINE_CHECK_STEPS == 0 and clock() > deadline:
            raise _Timeout()
        e = node - 1
        i = e >> 1
        if e & 1 == 0:  # a call: try to linearize op i here
            op = ops[i]
            ok, new_state = model.step(state, op.input, op.output)
            if ok:
                new_linearized = linearized | (1 << i)
                key = (new_linearized, new_state)
                if key not in cache:
                    cache.add(key)
                    stack.append((i, state))
                    state = new_state
                    linearized = new_linearized
                    lift(i)
                    if len(stack) > len(best):
                        best = [j for j, _ in stack]
                        best_state = state
                    node = nxt[0]
                    continue
            node = nxt[node]
        else:  # a return of an op not yet linearized: backtrack
            if not stack:
                return _failure(model, ops, best, best_state, nxt)
            j, state = stack.pop()
            linearized &= ~(1 << j)
            unlift(j)
            node = nxt[2 * j + 1]
    return None


def _failure(model, ops, best, best_state, nxt) -> CheckResult:
    """Build the report: the longest partial order found, and the ops that
    could not come next after it (every op called before the first return
    still pending after that prefix)."""
    done = set(best)
    pending = [i for i in range(len(ops)) if i not in done]
    first_return = min((ops[i].return_time for i in pending), default=math.inf)
    stuck = [ops[i] for i in pending if ops[i].call_time <= first_return]
    stuck.sort(key=lambda o: o.call_time)
    prefix = [ops[i] for i in best]
    lines = [model.describe_op(o) for o in stuck[:5]]
    return CheckResult(
        ok=False,
        counterexample=list(ops),
        partial_linearization=prefix,
        final_state=best_state,
        stuck_ops=stuck,
        message=(
            f"not linearizable: after {len(prefix)} of {len(ops)} ops "
            f"(state {best_state!r}) none of these can come next: " + "; ".join(lines)
        ),
    )


# --------------------------------------------------------------------------
# Ready-made models

def _register_step(state: Any, inp: Any, out: Any) -> tuple[bool, Any]:
    f = inp[0]
    if f == "write":
        return True, inp[1]
    if f == "read":
        return (out is None or out == state), state
    if f == "cas":
        expected, new = inp[1], inp[2]
        if out is None:  # unknown: it took effect iff the state matched
            return True, (new if state == expected else state)
        if out:
            return state == expected, new
        return state != expected, state
    raise ValueError(f"unknown register operation {f!r}")


def register_model(init_value: Any = None) -> Model:
    """A single read/write/compare-and-set register.

    Inputs: ("write", v), ("read",), ("cas", expected, new). Outputs: reads
    return the value, cas returns a bool, writes anything; None = unknown.
    Because None means unknown, pick a non-None `init_value` when reads of
    the initial state must be checked strictly.
    """

    def describe(inp: Any, out: Any) -> str:
        if inp[0] == "read":
            return f"read -> {'?' if out is None else repr(out)}"
        if inp[0] == "write":
            return f"write {inp[1]!r}{' ?' if out is None else ''}"
        return f"cas {inp[1]!r}->{inp[2]!r} = {'?' if out is None else out}"

    return Model(init=lambda: init_value, step=_register_step, describe=describe, name="register")


def kv_model(init_value: Any = None) -> Model:
    """A key-value map of independent registers, partitioned per key.

    Inputs: ("put", k, v), ("get", k), ("cas", k, expected, new); outputs as
    for `register_model`. Within a partition the state is that key's value.
    """

    def to_register(inp: Any) -> tuple:
        f = inp[0]
        if f == "put":
            return ("write", inp[2])
        if f == "get":
            return ("read",)
        if f == "cas":
            return ("cas", inp[2], inp[3])
        raise ValueError(f"unknown kv operation {f!r}")

    def step(state: Any, inp: Any, out: Any) -> tuple[bool, Any]:
        return _register_step(state, to_register(inp), out)

    def partition(ops: list[Operation]) -> list[list[Operation]]:
        by_key: dict[Any, list[Operation]] = {}
        for op in ops:
            by_key.setdefault(op.input[1], []).append(op)
        return list(by_key.values())

    def describe(inp: Any, out: Any) -> str:
        shown = "?" if out is None else repr(out)
        if inp[0] == "get":
            return f"get {inp[1]!r} -> {shown}"
        if inp[0] == "put":
            return f"put {inp[1]!r}={inp[2]!r}"
        return f"cas {inp[1]!r} {inp[2]!r}->{inp[3]!r} = {shown}"

    return Model(init=lambda: init_value, step=step, partition=partition, describe=describe, name="kv")
