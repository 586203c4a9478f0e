"""The `kafka` workload's consumers, after Jepsen's jepsen.tests.kafka:
alongside the queue's producers, consumers poll and commit. Even-numbered
consumers subscribe in one group ("jg", eager rebalances); odd ones assign
partitions themselves (a random subset, re-chosen now and then) and commit
in a group of their own (generation -1, offsets only).

History (checkers_data.py): a consumer is one process for the whole run.
`poll` ok value {"records": [[p, o, k, v]...], "rebalance": [...]} where
"rebalance" lists the assignment changes librdkafka applied inside that
poll (they happen before its records, so the checker resets first);
`assign` (manual) ops are instantaneous; `commit` after each poll that
returned records, synchronously, of last offset + 1 per partition. After
healing, `committed` reads every group's committed offsets.

The blocking calls run in one worker thread at a time per consumer (via
trio.to_thread); rebalance callbacks only append to a list the poll
returns, so the history is written from the trio thread alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import trio

from tests.jepsen import kafka_client as kc
from tests.jepsen.cluster import Cluster
from tests.jepsen.history import HistoryRecorder
from tests.jepsen.workload_data import TOPIC

CONSUMER_PROCESS_BASE = 100_000
COMMITTED_PROCESS_BASE = 3_000_000
GROUP = "jg"
# A commit refused for these surely did not happen (fail); others are info.
COMMIT_FAIL_ERRORS = frozenset({"ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "REBALANCE_IN_PROGRESS",
                                "_NO_OFFSET", "FENCED_INSTANCE_ID"})


@dataclass
class ConsumerSettings:
    consumers: int = 3
    partitions: int = 6
    op_timeout_s: float = 5.0
    poll_records_max: int = 200
    poll_timeout_s: float = 0.5
    reassign_probability: float = 0.05
    session_timeout_ms: int = 6000
    commit_deadline_s: float = 20.0  # a synchronous commit past this is abandoned
    leftovers: list = field(default_factory=list)  # consumers to close after healing
    abandoned: list = field(default_factory=list)  # stuck inside librdkafka: never closed

    def group_of(self, c: int) -> str:
        return GROUP if c % 2 == 0 else f"ja-{c}"


def _make(bootstrap: str, s: ConsumerSettings, c: int):
    extra = {"session.timeout.ms": s.session_timeout_ms, "heartbeat.interval.ms": 500,
             "max.poll.interval.ms": 30000, "partition.assignment.strategy": "range",
             "socket.timeout.ms": int(s.op_timeout_s * 1000),
             "topic.metadata.refresh.interval.ms": 1000}
    return kc.consumer(bootstrap, s.group_of(c), **extra)


def _subscribe(consumer, events: list) -> None:
    def on_assign(_c, parts):
        events.append({"assign": sorted(p.partition for p in parts)})

    def on_revoke(_c, parts):
        events.append({"revoke": sorted(p.partition for p in parts)})

    consumer.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke)


def _poll(consumer, events: list, n: int, timeout_s: float) -> tuple[list, list]:
    events.clear()
    msgs = consumer.consume(n, timeout_s)
    records = [kc.record_of(m) for m in msgs if m.error() is None]
    return records, list(events)


def _assign(consumer, partitions: list[int]) -> None:
    from confluent_kafka import TopicPartition

    consumer.assign([TopicPartition(TOPIC, p) for p in partitions])


def _commit(consumer, offsets: list[list[int]]) -> tuple[str, str | None]:
    from confluent_kafka import KafkaException, TopicPartition

    try:
        res = consumer.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in offsets],
                              asynchronous=False)
    except KafkaException as exc:
        name = exc.args[0].name()
        return ("fail" if name in COMMIT_FAIL_ERRORS else "info"), name
    except RuntimeError as exc:  # consumer closed
        return "fail", str(exc)
    bad = [tp for tp in res or [] if tp.error is not None]
    if bad:
        name = bad[0].error.name()
        return ("fail" if name in COMMIT_FAIL_ERRORS else "info"), name
    return "ok", None


async def consumer_worker(c: int, s: ConsumerSettings, cluster: Cluster, history: HistoryRecorder,
                          rng: random.Random) -> None:
    """Poll and commit until cancelled."""
    process = CONSUMER_PROCESS_BASE + c
    group = s.group_of(c)
    events: list = []
    consumer = await trio.to_thread.run_sync(_make, cluster.kafka_bootstrap(), s, c)
    s.leftovers.append(consumer)
    if group == GROUP:
        await trio.to_thread.run_sync(_subscribe, consumer, events)
    manual = group != GROUP
    assigned: list[int] = []
    while True:
        if manual and (not assigned or rng.random() < s.reassign_probability):
            assigned = sorted(rng.sample(range(s.partitions), rng.randint(1, s.partitions)))
            history.invoke(process, "assign", {"partitions": assigned, "how": "manual"})
            await trio.to_thread.run_sync(_assign, consumer, assigned)
            history.complete(process, "ok", "assign", {"partitions": assigned, "how": "manual"})
        history.invoke(process, "poll", None)
        records, changes = await trio.to_thread.run_sync(
            _poll, consumer, events, s.poll_records_max, s.poll_timeout_s)
        history.complete(process, "ok", "poll", {"records": records, "rebalance": changes})
        if not records:
            await trio.sleep(0)  # wait-ok: yield; the poll itself waited
            continue
        ends: dict[int, int] = {}
        for p, off, _k, _v in records:
            ends[p] = max(ends.get(p, 0), off + 1)
        value = {"group": group, "offsets": sorted([p, o] for p, o in ends.items())}
        history.invoke(process, "commit", value)
        returned = False
        try:
            with trio.move_on_after(s.commit_deadline_s):
                type_, error = await trio.to_thread.run_sync(_commit, consumer, value["offsets"],
                                                             abandon_on_cancel=True)
                returned = True
        finally:
            if not returned:  # its thread may still be inside librdkafka: hands off
                s.leftovers.remove(consumer)
                s.abandoned.append(consumer)
                kc.keep_until_exit(consumer)
        if returned:
            history.complete(process, type_, "commit", value, error=error)
            continue
        # A synchronous commit that never returns (kafka seed 203: two commits
        # in flight to a coordinator killed -9 hung for 80 s while the group's
        # other commits went on; confluent-kafka-python #1801 reports such
        # hangs): the outcome is unknown, and this consumer is stuck inside
        # librdkafka, so it is abandoned (never touched again, not closed) and
        # this worker ends; no fresh consumer takes its group, so a late
        # landing of that commit cannot be mistaken for offsets going back.
        history.complete(process, "info", "commit", value, error="COMMIT_HUNG")
        return


def _close(held: list) -> None:
    """Close the consumer in `held` (emptied); its last reference dies here,
    in a worker thread, never on the trio thread that runs the fault proxies
    (see kafka_client.dispose_producer)."""
    consumer = held.pop()
    try:
        consumer.close()
    finally:
        del consumer


async def close_all(s: ConsumerSettings, timeout_s: float = 20.0) -> None:
    """Close the consumers (after healing, so a group leave can reach its
    coordinator); one that does not finish in time is abandoned."""
    helds = [[consumer] for consumer in s.leftovers]
    s.leftovers.clear()
    with trio.move_on_after(timeout_s):
        async with trio.open_nursery() as nursery:
            for held in helds:
                nursery.start_soon(lambda h=held: trio.to_thread.run_sync(
                    _close, h, abandon_on_cancel=True))


def _committed(bootstrap: str, group: str, partitions: int, timeout_s: float) -> list[list[int]] | None:
    from confluent_kafka import TopicPartition

    c = kc.consumer(bootstrap, group)
    try:
        got = c.committed([TopicPartition(TOPIC, p) for p in range(partitions)], timeout=timeout_s)
        return sorted([tp.partition, tp.offset] for tp in got if tp.error is None)
    except Exception:  # noqa: BLE001 - not now; retried
        return None
    finally:
        c.close()


async def final_committed(cluster: Cluster, history: HistoryRecorder, s: ConsumerSettings,
                          timeout_s: float = 30.0) -> None:
    """Every group's committed offsets, retried until ok or the deadline."""
    await close_all(s)
    groups = sorted({s.group_of(c) for c in range(s.consumers)})
    with trio.move_on_after(timeout_s):
        for g_i, group in enumerate(groups):
            process = COMMITTED_PROCESS_BASE + g_i * 1000
            while True:
                history.invoke(process, "committed", {"group": group})
                got = await trio.to_thread.run_sync(
                    _committed, cluster.kafka_bootstrap(), group, s.partitions, s.op_timeout_s)
                if got is not None:
                    history.complete(process, "ok", "committed", {"group": group, "offsets": got})
                    break
                history.complete(process, "fail", "committed", {"group": group})
                process += 1
                await trio.sleep(0.5)  # wait-ok: poll/retry interval inside a deadline
