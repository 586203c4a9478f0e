"""The `metadata` workload: concurrent topic creates/deletes, config
registers, and topic listings against the cluster's admin API.

Ops recorded (history.py): `create`/`delete` (value: topic name), `list`
(ok value: sorted names; final reads have value {"final": true, "node": id}),
`write`/`read` (value [topic, config value]).

Why these outcome rules (`classify`): an op is `fail` only when it surely did
not take effect, otherwise `info`.
- Reads (`list`, `read`) change nothing, so any error is a `fail`.
- A request that surely never left the client (NotSentError) is a `fail`.
- Validation errors decided by the controller are a `fail`.
- `create` answered TOPIC_ALREADY_EXISTS is an `ok`: names are unique and
  each is created by one op only, so the topic exists because this very op
  took effect (e.g. an internal retry after a lost response).
- `delete` answered UNKNOWN_TOPIC_OR_PARTITION is `info`: it may be this op's
  own earlier attempt, or a lost create; the checker must not decide.
- Everything else (timeouts, lost connections, NOT_CONTROLLER after sending)
  is `info`.

The generator is pure (seeded `random.Random`); `run_worker` is the thin
async shell that calls the client and records the history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from rafka.netproto.errors import ErrorCode, RafkaError
from tests.jepsen.history import HistoryRecorder

CONFIG_KEY = "retention.ms"
TOPIC_PREFIX = "jt-"
REGISTER_PREFIX = "jr-"
# What a read of a register whose config is not set records: a real value,
# so the checker can tell "read nothing" from "outcome unknown" (None).
UNSET = "<unset>"

FAIL_CODES = frozenset({
    ErrorCode.INVALID_TOPIC_EXCEPTION,
    ErrorCode.INVALID_PARTITIONS,
    ErrorCode.INVALID_REPLICATION_FACTOR,
    ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    ErrorCode.INVALID_CONFIG,
    ErrorCode.INVALID_REQUEST,
    ErrorCode.POLICY_VIOLATION,
    ErrorCode.UNSUPPORTED_VERSION,
    ErrorCode.INCONSISTENT_CLUSTER_ID,
})
READS = frozenset({"list", "read"})


class AdminClient(Protocol):
    """What the workload needs from the cluster (see client.py)."""

    async def create_topic(self, name: str) -> None: ...
    async def delete_topic(self, name: str) -> None: ...
    async def list_topics(self) -> list[str]: ...
    async def alter_config(self, topic: str, key: str, value: str) -> None: ...
    async def describe_config(self, topic: str, key: str) -> str | None: ...


def classify(f: str, exc: BaseException) -> tuple[str, str]:
    """(completion type, error name) for an op `f` that raised `exc`."""
    if isinstance(exc, RafkaError):
        name = exc.code.name
        if type(exc).__name__ == "NotSentError":
            return "fail", "NOT_SENT"
        if f in READS:
            return "fail", name
        if f == "create" and exc.code == ErrorCode.TOPIC_ALREADY_EXISTS:
            return "ok", name
        if exc.code in FAIL_CODES:
            return "fail", name
        return "info", name
    if isinstance(exc, trio.TooSlowError):
        return ("fail" if f in READS else "info"), "TIMEOUT"
    if isinstance(exc, ConnectionRefusedError):
        return "fail", "CONNECTION_REFUSED"  # nothing was sent
    return ("fail" if f in READS else "info"), type(exc).__name__


@dataclass
class MetadataGenerator:
    """Chooses the next operation. Invariants: every topic name is created
    by at most one op; only topics whose create was acknowledged are
    deleted, each at most once; register topics are never deleted."""

    rng: random.Random
    registers: int = 3
    weights: dict[str, int] = field(default_factory=lambda: {
        "create": 30, "delete": 10, "list": 20, "write": 20, "read": 20})
    next_topic: int = 0
    next_value: int = 0
    deletable: list[str] = field(default_factory=list)

    @property
    def register_topics(self) -> list[str]:
        return [f"{REGISTER_PREFIX}{i}" for i in range(self.registers)]

    def next_op(self) -> tuple[str, Any]:
        fs = list(self.weights)
        f = self.rng.choices(fs, weights=[self.weights[x] for x in fs])[0]
        if f == "delete" and not self.deletable:
            f = "create"
        if f in ("write", "read") and not self.registers:
            f = "list"
        if f == "create":
            name = f"{TOPIC_PREFIX}{self.next_topic}"
            self.next_topic += 1
            return "create", name
        if f == "delete":
            i = self.rng.randrange(len(self.deletable))
            self.deletable[i], self.deletable[-1] = self.deletable[-1], self.deletable[i]
            return "delete", self.deletable.pop()
        if f == "list":
            return "list", None
        topic = self.rng.choice(self.register_topics)
        if f == "write":
            self.next_value += 1
            return "write", [topic, str(1000 + self.next_value)]
        return "read", [topic, None]

    def completed(self, f: str, value: Any, type_: str) -> None:
        if f == "create" and type_ == "ok":
            self.deletable.append(value)


async def invoke(client: AdminClient, f: str, value: Any) -> Any:
    """Perform one op; returns the ok value (raises on error)."""
    if f == "create":
        await client.create_topic(value)
        return value
    if f == "delete":
        await client.delete_topic(value)
        return value
    if f == "list":
        return sorted(await client.list_topics())
    if f == "write":
        await client.alter_config(value[0], CONFIG_KEY, value[1])
        return value
    if f == "read":
        got = await client.describe_config(value[0], CONFIG_KEY)
        return [value[0], UNSET if got is None else got]
    raise ValueError(f"unknown op {f!r}")


async def perform(history: HistoryRecorder, client: AdminClient, process: int,
                  f: str, value: Any, op_timeout_s: float) -> str:
    """Invoke, await with a deadline, record the completion; returns its type."""
    history.invoke(process, f, value)
    try:
        with trio.fail_after(op_timeout_s):
            result = await invoke(client, f, value)
    except Exception as exc:  # noqa: BLE001 - every failure is an outcome to record
        type_, error = classify(f, exc)
        history.complete(process, type_, f, value, error=error, detail=str(exc))
        return type_
    history.complete(process, "ok", f, result)
    return "ok"


@dataclass
class WorkerSettings:
    concurrency: int
    rate_per_s: float
    op_timeout_s: float = 5.0


async def run_worker(worker: int, settings: WorkerSettings, gen: MetadataGenerator,
                     history: HistoryRecorder, client: AdminClient,
                     rng: random.Random) -> None:
    """Loop until cancelled. Process ids: worker, worker+c, worker+2c, ...
    (a fresh id after each info). Paces itself so all workers together
    issue about `rate_per_s` ops per second."""
    process = worker
    interval_s = settings.concurrency / settings.rate_per_s if settings.rate_per_s > 0 else 0.0
    while True:
        if interval_s:
            await trio.sleep(rng.uniform(0, 2 * interval_s))
        f, value = gen.next_op()
        type_ = await perform(history, client, process, f, value, settings.op_timeout_s)
        gen.completed(f, value, type_)
        if type_ == "info":
            process += settings.concurrency
