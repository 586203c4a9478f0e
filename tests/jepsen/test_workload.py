"""The metadata workload end to end against an in-memory fake cluster, on
trio's virtual clock: correct fakes must pass every check, buggy fakes must
be caught. No processes, no sockets."""

from __future__ import annotations

import random

import pytest
import trio

from rafka.netproto.errors import ErrorCode, RafkaError
from tests.jepsen.checkers_metadata import check_all
from tests.jepsen.history import HistoryRecorder, pair
from tests.jepsen.workload_metadata import (
    MetadataGenerator,
    WorkerSettings,
    classify,
    perform,
    run_worker,
)


class FakeAdmin:
    """A linearizable in-memory metadata store: each op takes effect at one
    instant inside its call. Bugs can be switched on."""

    def __init__(self, rng, *, lose_creates=False, stale_lists=False, timeouts=False):
        self.rng = rng
        self.topics: set[str] = set()
        self.configs: dict[str, str] = {}
        self.lose_creates = lose_creates
        self.stale_lists = stale_lists
        self.timeouts = timeouts
        self.snapshot: list[str] = []

    async def _pause(self):
        await trio.sleep(self.rng.uniform(0.001, 0.05))

    async def create_topic(self, name):
        await self._pause()
        if name in self.topics:
            raise RafkaError(ErrorCode.TOPIC_ALREADY_EXISTS)
        if not (self.lose_creates and self.rng.random() < 0.3):
            self.topics.add(name)
        if self.timeouts and self.rng.random() < 0.2:
            await trio.sleep(100)  # wait-ok: the answer never comes (an info op)
        await self._pause()

    async def delete_topic(self, name):
        await self._pause()
        if name not in self.topics:
            raise RafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        self.topics.discard(name)
        await self._pause()

    async def list_topics(self):
        await self._pause()
        if self.stale_lists and self.rng.random() < 0.5:
            return list(self.snapshot)
        self.snapshot = sorted(self.topics)
        return sorted(self.topics)

    async def alter_config(self, topic, key, value):
        await self._pause()
        self.configs[topic] = value
        await self._pause()

    async def describe_config(self, topic, key):
        await self._pause()
        return self.configs.get(topic)


async def drive(fake, seed, seconds=20.0, concurrency=4):
    history = HistoryRecorder(trio.current_time)
    gen = MetadataGenerator(random.Random(seed), registers=2)
    for i, topic in enumerate(gen.register_topics):
        assert await perform(history, fake, 900 + i, "create", topic, 5) == "ok"
        assert await perform(history, fake, 900 + i, "write", [topic, "1000"], 5) == "ok"
    settings = WorkerSettings(concurrency=concurrency, rate_per_s=40, op_timeout_s=1.0)
    async with trio.open_nursery() as nursery:
        for w in range(concurrency):
            nursery.start_soon(run_worker, w, settings, gen, history, fake, random.Random(seed + w))
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()
    fake.stale_lists = False
    assert await perform(history, fake, 5000, "list", {"final": True, "node": 1}, 5) == "ok"
    return history.events


async def test_correct_store_passes(autojump_clock):
    """Goal: a linearizable store, with timeouts that leave ops unknown,
    passes every check; the history has all three outcomes' shapes."""
    events = await drive(FakeAdmin(random.Random(1), timeouts=True), seed=1)
    checks = check_all(events)
    assert {k: v["valid"] for k, v in checks.items() if k != "convergence"} == {
        "topics": True, "topics-linearizable": True, "registers": True}
    types = {op.type for op in pair(events)}
    assert {"ok", "info"} <= types
    assert sum(1 for op in pair(events) if op.f == "create") > 50


async def test_lost_creates_are_caught(autojump_clock):
    """Goal: a store that acknowledges creates it then forgets is flagged."""
    events = await drive(FakeAdmin(random.Random(2), lose_creates=True), seed=2)
    checks = check_all(events)
    assert checks["topics"]["valid"] is False
    assert checks["topics"]["lost_count"] > 0
    assert checks["topics-linearizable"]["valid"] is False


async def test_stale_lists_are_caught(autojump_clock):
    """Goal: a store whose lists sometimes serve an old snapshot (a deposed
    leader's view) passes the end-state check but fails linearizability."""
    events = await drive(FakeAdmin(random.Random(3), stale_lists=True), seed=3)
    checks = check_all(events)
    assert checks["topics-linearizable"]["valid"] is False


def test_classify_outcomes():
    """Goal: fail only when the op surely did not happen."""
    from rafka.netproto.connection import NotSentError

    assert classify("create", RafkaError(ErrorCode.TOPIC_ALREADY_EXISTS)) == ("ok", "TOPIC_ALREADY_EXISTS")
    assert classify("delete", RafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))[0] == "info"
    assert classify("create", RafkaError(ErrorCode.INVALID_REPLICATION_FACTOR))[0] == "fail"
    assert classify("create", RafkaError(ErrorCode.NOT_CONTROLLER))[0] == "info"
    assert classify("write", RafkaError(ErrorCode.REQUEST_TIMED_OUT))[0] == "info"
    assert classify("write", NotSentError("no route"))[0] == "fail"
    assert classify("list", RafkaError(ErrorCode.REQUEST_TIMED_OUT))[0] == "fail"
    assert classify("create", trio.TooSlowError())[0] == "info"
    assert classify("read", trio.TooSlowError())[0] == "fail"


def test_generator_invariants():
    """Goal: names are unique, deletes target only acked creates, once."""
    gen = MetadataGenerator(random.Random(5))
    created, deleted = [], []
    for _ in range(2000):
        f, v = gen.next_op()
        if f == "create":
            created.append(v)
            gen.completed(f, v, "ok" if len(created) % 3 else "info")
        elif f == "delete":
            deleted.append(v)
    assert len(created) == len(set(created))
    assert len(deleted) == len(set(deleted))
    acked = {n for k, n in enumerate(created, 1) if k % 3}
    assert set(deleted) <= acked
    with pytest.raises(ValueError):
        trio.run(lambda: __import__("tests.jepsen.workload_metadata",
                                    fromlist=["invoke"]).invoke(None, "nope", None))
