"""The data workloads' shell: topic setup, producers, the final reader and
the replica view. `queue` is producers only; `kafka` adds consumers
(workload_kafka.py). Clients are confluent-kafka through the kafka proxies.

History (checkers_data.py documents the shapes): each producer is a
process sending one record at a time (acks=all, idempotence) and waiting
for its delivery report, so ack order is send order; after an `info` the
process is retired and the worker continues under a fresh id and a fresh
producer (see `producer_worker`). After healing, a
final reader reads each partition from 0 to its end (`read`, one op per
partition and attempt), then the harness records the `replica-logs` view.

Values are unique strings "W-N" (worker W's N-th send), keys "kK".
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import structlog
import trio

from tests.jepsen import kafka_client as kc
from tests.jepsen.cluster import Cluster
from tests.jepsen.history import HistoryRecorder
from tests.jepsen.replica_logs import replica_summary

log = structlog.get_logger("jepsen.data")

TOPIC = "jq"
FINAL_PROCESS_BASE = 2_000_000


class SetupError(RuntimeError):
    """The workload could not be set up (not a verdict on the system)."""


@dataclass(frozen=True)
class DataSettings:
    partitions: int = 6
    replication_factor: int = 3
    min_insync_replicas: int = 2
    producers: int = 5
    rate_per_s: float = 50.0
    keys: int = 30
    op_timeout_s: float = 5.0
    setup_timeout_s: float = 60.0
    final_timeout_s: float = 60.0
    hw_wait_s: float = 15.0
    converge_timeout_s: float = 30.0


async def setup_topic(cluster: Cluster, s: DataSettings) -> None:
    """Create the topic (retried until ok) and wait until every partition
    has a leader and a full ISR, so the run starts from a healthy state."""
    configs = {"min.insync.replicas": str(s.min_insync_replicas)}
    boot = cluster.kafka_bootstrap()
    last = "?"
    with trio.move_on_after(s.setup_timeout_s):
        while (last := await trio.to_thread.run_sync(
                kc.create_topic, boot, TOPIC, s.partitions, s.replication_factor, configs,
                s.op_timeout_s)) != "ok":
            await trio.sleep(0.3)  # wait-ok: poll/retry interval inside a deadline
        while True:
            state = await trio.to_thread.run_sync(kc.topic_state, boot, TOPIC, s.op_timeout_s)
            if len(state) == s.partitions and all(
                    leader >= 0 and len(isr) == s.replication_factor for leader, isr in state.values()):
                return
            last = f"partitions not ready: {state}"
            await trio.sleep(0.3)  # wait-ok: poll/retry interval inside a deadline
    raise SetupError(f"topic {TOPIC} not ready after {s.setup_timeout_s}s: {last}")


async def producer_worker(w: int, s: DataSettings, cluster: Cluster, history: HistoryRecorder,
                          rng: random.Random) -> None:
    """Loop until cancelled; process ids w, w+P, w+2P, ... (fresh after info)."""
    process = w
    interval_s = s.producers / s.rate_per_s if s.rate_per_s > 0 else 0.0
    # The producer lives only in `held`, never in a local of this coroutine,
    # so its last reference dies in a worker thread (kc.dispose_producer).
    held: list = []
    n = 0
    try:
        while True:
            if interval_s:
                await trio.sleep(rng.uniform(0, 2 * interval_s))
            if not held:
                held.append(await trio.to_thread.run_sync(
                    kc.make_producer, cluster.kafka_bootstrap(), s.op_timeout_s))
            key, value = f"k{rng.randrange(s.keys)}", f"{w}-{n}"
            n += 1
            history.invoke(process, "send", {"key": key, "value": value})
            out = await trio.to_thread.run_sync(kc.send_one, held, TOPIC, key, value, s.op_timeout_s)
            if out.type == "ok":
                history.complete(process, "ok", "send", {"key": key, "value": value,
                                                         "partition": out.partition, "offset": out.offset})
            else:
                history.complete(process, out.type, "send", {"key": key, "value": value},
                                 error=out.error)
            if out.type == "info":
                process += s.producers
            if out.type == "info" or out.fatal:
                # A fresh producer after an unknown outcome: librdkafka bumps
                # the epoch of a producer whose message timed out and re-sends
                # its other in-flight records under the new epoch, where no
                # broker can recognise them (seen: seed 3, one value twice).
                await trio.to_thread.run_sync(kc.dispose_producer, held)
    finally:
        if held:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(kc.dispose_producer, held)


def acked_ends(history: HistoryRecorder) -> dict[int, int]:
    """{partition: 1 + highest acknowledged offset}."""
    ends: dict[int, int] = {}
    for e in history.events:
        if e["f"] == "send" and e["type"] == "ok":
            p, off = e["value"]["partition"], e["value"]["offset"]
            ends[p] = max(ends.get(p, 0), off + 1)
    return ends


async def final_reads(cluster: Cluster, history: HistoryRecorder, s: DataSettings) -> None:
    """Each partition read from 0 to its end, retried until ok or the
    deadline. The end is the HW once it covers every acknowledged offset (a
    new leader may lag for a moment), or after `hw_wait_s`, the HW then."""
    ends = acked_ends(history)
    boot = cluster.kafka_bootstrap()

    async def one(p: int) -> None:
        process = FINAL_PROCESS_BASE + p * 1000
        waited_until = trio.current_time() + s.hw_wait_s
        while True:
            value = {"final": True, "partition": p}
            hw = await trio.to_thread.run_sync(kc.high_watermark, boot, TOPIC, p, s.op_timeout_s)
            if hw is not None and hw < ends.get(p, 0) and trio.current_time() < waited_until:
                await trio.sleep(0.3)  # wait-ok: poll/retry interval inside a deadline
                continue
            history.invoke(process, "read", value)
            if hw is None:
                history.complete(process, "fail", "read", value, error="NO_HIGH_WATERMARK")
            else:
                records, end = await trio.to_thread.run_sync(
                    kc.read_partition, boot, TOPIC, p, hw, max(10.0, s.op_timeout_s * 2))
                if end is not None:
                    history.complete(process, "ok", "read",
                                     {**value, "records": records, "high_watermark": hw})
                    return
                history.complete(process, "fail", "read", value, error="END_NOT_REACHED",
                                 detail=f"read {len(records)} records, hw {hw}")
            process += 1
            await trio.sleep(0.5)  # wait-ok: poll/retry interval inside a deadline

    with trio.move_on_after(s.final_timeout_s):
        async with trio.open_nursery() as nursery:
            for p in range(s.partitions):
                nursery.start_soon(one, p)


def _replica_view(cluster: Cluster, s: DataSettings) -> dict:
    boot = cluster.kafka_bootstrap()
    state = kc.topic_state(boot, TOPIC, s.op_timeout_s)
    parts: dict[str, dict] = {}
    for p in range(s.partitions):
        if p not in state:
            parts[str(p)] = {"error": "no metadata for the partition"}
            continue
        leader, isr = state[p]
        hw = kc.high_watermark(boot, TOPIC, p, s.op_timeout_s)
        if hw is None:
            parts[str(p)] = {"error": "no high watermark", "leader": leader, "isr": isr}
            continue
        parts[str(p)] = {"leader": leader, "isr": isr, "high_watermark": hw, "replicas": {
            str(i): replica_summary(cluster.partition_dir(i, TOPIC, p), hw) for i in isr}}
    return {"topic": TOPIC, "partitions": parts}


def view_agrees(view: dict) -> bool:
    for pv in view["partitions"].values():
        if pv.get("error"):
            return False
        reps = pv["replicas"].values()
        if len({r["digest"] for r in reps}) != 1 or any(r["records"] != pv["high_watermark"] for r in reps):
            return False
    return True


async def replica_logs(cluster: Cluster, history: HistoryRecorder, s: DataSettings) -> None:
    """Record the ISR replicas' logs below the HW once they agree (a
    follower may still be catching up) or, at the deadline, as they are."""
    view: dict = {}
    with trio.move_on_after(s.converge_timeout_s):
        while True:
            view = await trio.to_thread.run_sync(_replica_view, cluster, s)
            if view_agrees(view):
                break
            await trio.sleep(0.5)  # wait-ok: poll/retry interval inside a deadline
    history.nemesis("replica-logs", view or {"partitions": {}})

