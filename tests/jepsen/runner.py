"""One Jepsen-style run: cluster up, workload + nemesis until the time limit,
heal, quiet period, final reads, node status, checkers, verdict files.

Outputs in the run directory: history.jsonl (written as the run goes),
results.json ({"valid": bool, "checks": {...}, "run": {...}}), summary.txt,
latency.png (matplotlib is required: a run refuses up front without it).
`check_dir` re-runs the checkers on a saved history and rewrites the verdict
files.

Exit codes (see scripts/jepsen.py): 0 valid, 1 invalid, 2 the harness could
not run (e.g. the cluster never became ready).
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog
import trio

from tests.jepsen import checkers_data, checkers_metadata, workload_data
from tests.jepsen.client import metadata_status, open_admin_client
from tests.jepsen.cluster import Cluster, ClusterSettings
from tests.jepsen.fuse.control import unavailable_reason
from tests.jepsen.history import HistoryRecorder, counts, fault_windows, load
from tests.jepsen.nemesis import ScheduleConfig, make_schedule
from tests.jepsen.nemesis_driver import NemesisState, heal_all, run_nemesis, statuses
from tests.jepsen.plot import PlotDependencyError, plot_latency, require_matplotlib
from tests.jepsen.progress import Progress
from tests.jepsen.workload_metadata import (
    MetadataGenerator,
    WorkerSettings,
    perform,
    run_worker,
)

log = structlog.get_logger("jepsen.runner")

WORKLOADS = {
    "metadata": "concurrent topic create/delete/list and per-topic config registers",
    "queue": "idempotent acks=all producers on a 6-partition RF=3 topic, a final reader",
    "kafka": "producers plus consumers (group subscribe or manual assign) polling and committing",
}
DATA_WORKLOADS = ("queue", "kafka")
SETUP_PROCESS_BASE = 1_000_000
FINAL_PROCESS_BASE = 2_000_000


class RunError(RuntimeError):
    """The harness could not carry out the run (not a verdict on the system)."""


@dataclass
class RunOptions:
    out: Path
    workload: str = "metadata"
    nemeses: tuple[str, ...] = ()
    schedule: str = "random"  # nemesis.KIND_ORDERS: kinds drawn at random, or in order
    time_limit_s: float = 60.0
    rate: float = 50.0
    nodes: int = 3
    seed: int = 0
    concurrency: int = 5
    quiet_s: float = 5.0
    fault_s: tuple[float, float] = (5.0, 15.0)
    heal_s: tuple[float, float] = (5.0, 15.0)
    op_timeout_s: float = 5.0
    final_timeout_s: float = 30.0
    converge_timeout_s: float = 20.0
    registers: int = 3
    checker_timeout_s: float = 60.0
    election_timeout_ms: int = 1000
    node_command: tuple[str, ...] | None = None  # None: `rafka node start`
    partitions: int = 6  # data workloads
    consumers: int = 3  # kafka workload


async def run(opts: RunOptions, progress_out=None) -> dict:
    """Carry out a run and write its outputs; returns results.json's dict."""
    if opts.workload not in WORKLOADS:
        raise RunError(f"unknown workload {opts.workload!r} (valid: {', '.join(WORKLOADS)})")
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(opts.seed)
    schedule = make_schedule(opts.nemeses, list(range(1, opts.nodes + 1)),
                             ScheduleConfig(opts.time_limit_s, opts.fault_s, opts.heal_s,
                                            kind_order=opts.schedule),
                             random.Random(rng.random()))
    (out / "schedule.json").write_text(json.dumps([e.to_json() for e in schedule], indent=1))
    log.info("run_start", workload=opts.workload, seed=opts.seed, nodes=opts.nodes,
             faults=len(schedule), out=str(out))
    settings = ClusterSettings(nodes=opts.nodes, election_timeout_ms=opts.election_timeout_ms,
                               node_command=opts.node_command,
                               kafka=opts.workload in DATA_WORKLOADS,
                               lazyfs=any(k.startswith("lose-unfsynced") for k in opts.nemeses))
    if settings.lazyfs and (reason := unavailable_reason()):
        raise RunError(f"nemesis lose-unfsynced refused: {reason}")
    try:  # the verdict writes the plot: refuse now, not after the run
        require_matplotlib()
    except PlotDependencyError as exc:
        raise RunError(str(exc)) from None
    cluster = Cluster(out / "cluster", settings, random.Random(rng.random()))
    gen = MetadataGenerator(random.Random(rng.random()), registers=opts.registers)
    worker_rng = random.Random(rng.random())
    nemesis = NemesisState()
    died: list[int] = []
    with open(out / "history.jsonl", "w", encoding="utf-8") as hist_file:
        history = HistoryRecorder(trio.current_time, hist_file)
        progress = Progress(history, nemesis, opts.time_limit_s, progress_out or sys.stderr)
        try:
            async with trio.open_nursery() as nursery:
                await cluster.start_proxies(nursery)
                nursery.start_soon(progress.run)
                try:
                    if opts.workload in DATA_WORKLOADS:
                        await _run_data(opts, cluster, history, worker_rng, schedule, nemesis,
                                        progress)
                    else:
                        await _run_cluster(opts, cluster, history, gen, worker_rng, schedule,
                                           nemesis, progress)
                finally:
                    progress.finish()
                    died = cluster.unexpected_exits()
                    with trio.CancelScope(shield=True):
                        await trio.to_thread.run_sync(cluster.stop_all)
                        await trio.to_thread.run_sync(cluster.collect_logs, out / "logs")
                    cluster.close_proxies()
                    nursery.cancel_scope.cancel()
        finally:
            history.flush()
    meta = {"options": _jsonable(asdict(opts)), "schedule": [e.to_json() for e in schedule],
            "cluster_id": cluster.cluster_id, "nodes_exited_unexpectedly": died}
    return write_verdict(out, history.events, meta, opts.checker_timeout_s)


async def _run_cluster(opts, cluster, history, gen, worker_rng, schedule, nemesis, progress):
    await trio.to_thread.run_sync(cluster.prepare)
    cluster.launch_all()
    await wait_ready(cluster, cluster.settings.ready_timeout_s)
    history.reset_origin()
    async with open_admin_client(cluster.bootstrap(), cluster.cluster_id, seed=opts.seed,
                                 call_timeout_s=opts.op_timeout_s) as client:
        await setup_registers(opts, gen, history, client)
        settings = WorkerSettings(opts.concurrency, opts.rate, opts.op_timeout_s)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_nemesis, cluster, schedule, history, nemesis)
            for w in range(opts.concurrency):
                nursery.start_soon(run_worker, w, settings, gen, history, client,
                                   random.Random(worker_rng.random()))
            await trio.sleep(max(0.0, opts.time_limit_s - history.elapsed_s()))
            nursery.cancel_scope.cancel()
    # cancelled workers left invokes open: they pair as info, as they should
    was_faulted = nemesis.current != "none"
    heal_all(cluster, nemesis)
    if was_faulted:
        history.nemesis("stop", "final heal")
    history.nemesis("heal", "all faults healed; quiet period")
    progress.phase = "quiet"
    await trio.sleep(opts.quiet_s)
    progress.phase = "final reads"
    await final_reads(opts, cluster, history)
    progress.phase = "convergence"
    history.nemesis("node-status", await converged_status(cluster, opts.converge_timeout_s))
    history.nemesis("node-exits", cluster.unexpected_exits())


def data_settings(opts: RunOptions) -> workload_data.DataSettings:
    return workload_data.DataSettings(
        partitions=opts.partitions, replication_factor=min(3, opts.nodes),
        min_insync_replicas=min(2, opts.nodes), producers=opts.concurrency, rate_per_s=opts.rate,
        op_timeout_s=opts.op_timeout_s, final_timeout_s=max(opts.final_timeout_s, 60.0),
        converge_timeout_s=max(opts.converge_timeout_s, 30.0))


async def _run_data(opts, cluster, history, worker_rng, schedule, nemesis, progress):
    """The queue/kafka flow: topic, producers (+ consumers), nemesis until
    the time limit; heal, quiet, final reads, the replica view."""
    from tests.jepsen import workload_kafka

    await trio.to_thread.run_sync(cluster.prepare)
    cluster.launch_all()
    await wait_ready(cluster, cluster.settings.ready_timeout_s)
    s = data_settings(opts)
    try:
        await workload_data.setup_topic(cluster, s)
    except workload_data.SetupError as exc:
        raise RunError(str(exc)) from None
    history.reset_origin()
    consumers = workload_kafka.ConsumerSettings(consumers=opts.consumers, op_timeout_s=opts.op_timeout_s,
                                                partitions=opts.partitions)
    nemesis_scope = trio.CancelScope()
    nemesis_done = trio.Event()

    async def nemesis_task() -> None:
        try:
            with nemesis_scope:
                await run_nemesis(cluster, schedule, history, nemesis)
        finally:
            nemesis_done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(nemesis_task)
        for w in range(s.producers):
            nursery.start_soon(workload_data.producer_worker, w, s, cluster, history,
                               random.Random(worker_rng.random()))
        if opts.workload == "kafka":
            for c in range(opts.consumers):
                nursery.start_soon(workload_kafka.consumer_worker, c, consumers, cluster, history,
                                   random.Random(worker_rng.random()))
        await trio.sleep(max(0.0, opts.time_limit_s - history.elapsed_s()))
        # Heal before stopping the workers: a worker inside a blocking client
        # call against a killed node (confluent's synchronous commit to a dead
        # coordinator has no timeout) returns only once the node is back, and
        # its thread cannot be cancelled (kafka seed 203 hung here).
        nemesis_scope.cancel()
        await nemesis_done.wait()  # a fault being applied (kill, drop) finishes first
        was_faulted = nemesis.current != "none"
        heal_all(cluster, nemesis)
        if was_faulted:
            history.nemesis("stop", "final heal")
        nursery.cancel_scope.cancel()
    history.nemesis("heal", "all faults healed; quiet period")
    progress.phase = "quiet"
    await trio.sleep(opts.quiet_s)
    progress.phase = "final reads"
    await workload_data.final_reads(cluster, history, s)
    if opts.workload == "kafka":
        await workload_kafka.final_committed(cluster, history, consumers)
    progress.phase = "replica logs"
    await workload_data.replica_logs(cluster, history, s)
    history.nemesis("node-exits", cluster.unexpected_exits())


async def wait_ready(cluster: Cluster, timeout_s: float) -> None:
    """Every node answers and all agree on one leader."""
    with trio.move_on_after(timeout_s):
        while True:
            views = await statuses(cluster)
            leaders = {v.get("leader_id") for v in views.values() if v}
            if all(views.values()) and len(leaders) == 1 and None not in leaders:
                return
            died = [i for i in cluster.node_ids if not cluster.nodes[i].alive]
            if died:
                raise RunError(f"nodes {died} exited during start-up; see their stdout logs")
            await trio.sleep(0.2)  # wait-ok: poll/retry interval inside a deadline
    raise RunError(f"cluster not ready after {timeout_s}s (no agreed leader)")


async def setup_registers(opts, gen, history, client) -> None:
    """Create the register topics and give each an initial value; retried
    until ok (every attempt is in the history)."""
    process = SETUP_PROCESS_BASE
    with trio.move_on_after(max(30.0, 6 * opts.op_timeout_s)) as scope:
        for topic in gen.register_topics:
            for f, value in (("create", topic), ("write", [topic, "1000"])):
                while True:
                    t = await perform(history, client, process, f, value, opts.op_timeout_s)
                    process += 1
                    if t == "ok":
                        break
                    await trio.sleep(0.2)  # wait-ok: poll/retry interval inside a deadline
    if scope.cancelled_caught:
        last = next((e for e in reversed(history.events) if e["type"] in ("fail", "info")), {})
        raise RunError("could not create the register topics; last error: "
                       f"{last.get('error')} {last.get('detail', '')}".rstrip())


async def final_reads(opts, cluster, history) -> None:
    """A `list` through each node's client link, retried until ok."""
    async def one(i: int) -> None:
        process = FINAL_PROCESS_BASE + i * 1000
        value = {"final": True, "node": i}
        async with open_admin_client([cluster.client_proxies[i].address], cluster.cluster_id,
                                     seed=opts.seed + i, call_timeout_s=opts.op_timeout_s) as c:
            while True:
                if await perform(history, c, process, "list", value, opts.op_timeout_s) == "ok":
                    return
                process += 1
                await trio.sleep(0.5)  # wait-ok: poll/retry interval inside a deadline

    with trio.move_on_after(opts.final_timeout_s):
        async with trio.open_nursery() as nursery:
            for i in cluster.node_ids:
                nursery.start_soon(one, i)


async def converged_status(cluster: Cluster, timeout_s: float) -> dict:
    """Poll statuses until every node reports the same applied offset and
    digest (or time runs out); returns the last {node_id: status}."""
    views: dict = {}
    with trio.move_on_after(timeout_s):
        while True:
            views = await statuses(cluster, query=metadata_status)
            marks = {(v.get("metadata_offset", v.get("offset")), v.get("digest"))
                     for v in views.values() if v}
            if all(views.values()) and len(marks) == 1:
                break
            await trio.sleep(0.5)  # wait-ok: poll/retry interval inside a deadline
    return {str(i): v for i, v in views.items()}


def workload_of(events: list[dict], meta: dict) -> str:
    """The run's workload (from its options, else from its history)."""
    name = (meta.get("options") or {}).get("workload")
    if name:
        return name
    return "queue" if any(e.get("f") == "send" for e in events) else "metadata"


def write_verdict(out: Path, events: list[dict], meta: dict, checker_timeout_s: float = 60.0) -> dict:
    checkers = checkers_data if workload_of(events, meta) in DATA_WORKLOADS else checkers_metadata
    checks = checkers.check_all(events, checker_timeout_s)
    valid = all(c.get("valid") is True for c in checks.values())
    results = {"valid": valid, "checks": checks, "counts": counts(events), "run": meta}
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    plot_latency(events, out / "latency.png",
                 title=f"{meta.get('options', {}).get('workload', 'metadata')} "
                       f"seed={meta.get('options', {}).get('seed', '?')}")
    (out / "summary.txt").write_text(summary_text(results, events))
    return results


def summary_text(results: dict, events: list[dict]) -> str:
    c = results["counts"]
    lines = [f"verdict: {'VALID' if results['valid'] else 'INVALID'}",
             f"ops: ok={c['ok']} fail={c['fail']} info={c['info']}"]
    opts = results.get("run", {}).get("options", {})
    if opts:
        lines.append(f"seed={opts.get('seed')} nodes={opts.get('nodes')} "
                     f"nemeses={','.join(opts.get('nemeses') or []) or 'none'} "
                     f"schedule={opts.get('schedule', 'random')} "
                     f"time_limit_s={opts.get('time_limit_s')}")
    for name, check in results["checks"].items():
        extra = check.get("error") or ""
        for key in ("lost", "phantoms", "resurrected", "duplicated", "unexpected", "reordered",
                    "inconsistent", "skips", "backwards", "divergent"):
            if check.get(key) and isinstance(check[key], list):
                extra += f" {key}={str(check[key][:3])[:300]}"
        if check.get("failure_count"):
            extra += f" failures={check['failure_count']}: {check['failures'][0].get('message', '')[:200]}"
        lines.append(f"  {name}: {check.get('valid')}{(' -' + extra) if extra else ''}")
    windows = fault_windows(events)
    lines.append(f"faults: {len(windows)}")
    for w in windows:
        lines.append(f"  {w['start']:8.2f}-{w['end']:8.2f}s {w['fault'][:150]}")
    lines.append("plot: latency.png")
    return "\n".join(lines) + "\n"


def check_dir(out: Path) -> dict:
    """Re-run the checkers on DIR/history.jsonl and rewrite the verdict."""
    out = Path(out)
    events = load(out / "history.jsonl")
    meta = {}
    old = out / "results.json"
    if old.exists():
        try:
            meta = json.loads(old.read_text()).get("run", {})
        except (ValueError, AttributeError):
            meta = {}
    return write_verdict(out, events, meta)


def verdict_line(results: dict, out: Path) -> str:
    bad = [k for k, v in results["checks"].items() if v.get("valid") is not True]
    if results["valid"]:
        return f"VALID: all {len(results['checks'])} checks passed ({out})"
    shown = ", ".join(f"{k}={results['checks'][k].get('valid')}" for k in bad)
    return f"INVALID: {shown} ({out})"


def _jsonable(d: dict) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}
