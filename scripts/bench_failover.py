"""failover: kill -9 the leader of a 3-node quorum; time until a new leader has committed an entry.

Each trial: find the leader, kill -9 it, then offer a one-entry BenchAppend
to every surviving node every few milliseconds; the trial's time is from the
kill to the first acknowledged commit (only a leader acknowledges). The
killed node is restarted and caught up before the next trial. Nodes run with
the default Raft settings of broker/config.py.

Baseline, same run: the same cluster's steady-state commit latency (one
entry, no failure), so the ratio shows how many ordinary commits a failover
costs. Last line: `raft-failover: median X ms (max Y ms)` followed by the
ratio in the same line.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_raft import RafkaCluster, wait_leader  # noqa: E402

POLL_S = 0.005


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trials", type=int, default=5, help="failovers to time (at least 5)")
    p.add_argument("--trial-timeout-s", type=float, default=30.0)
    p.add_argument("--keep-dir", action="store_true")


async def time_to_commit(cluster: RafkaCluster, survivors: list[int], timeout_s: float) -> float:
    """Seconds from now until any survivor acknowledges a committed entry."""
    import trio

    from rafka.broker.client.node_client import AdminError, bench_append

    start = trio.current_time()
    done = trio.Event()
    elapsed: list[float] = []

    async def offer(i: int) -> None:
        while not done.is_set():
            try:
                await bench_append(cluster.address(i), cluster.cluster_id, [b"failover-probe"], timeout_s=timeout_s)
            except AdminError:
                await trio.sleep(POLL_S)
                continue
            if not done.is_set():
                elapsed.append(trio.current_time() - start)
                done.set()

    with trio.fail_after(timeout_s):
        async with trio.open_nursery() as nursery:
            for i in survivors:
                nursery.start_soon(offer, i)
            await done.wait()
            nursery.cancel_scope.cancel()
    return elapsed[0]


async def caught_up(cluster: RafkaCluster, node: int, timeout_s: float) -> None:
    """Wait until `node` has applied everything the leader has committed."""
    import trio

    from rafka.broker.client.node_client import AdminError, node_status

    with trio.fail_after(timeout_s):
        while True:
            try:
                leader = await wait_leader(cluster, timeout_s)
                st = await node_status(cluster.address(node), cluster.cluster_id, timeout_s=1.0)
                if st["applied_index"] >= leader["commit_index"]:
                    return
            except AdminError:
                pass
            await trio.sleep(0.05)


async def steady_commit_s(cluster: RafkaCluster, samples: int = 20) -> float:
    import trio

    from rafka.broker.client.node_client import bench_append

    leader = await wait_leader(cluster, 30.0)
    times = []
    for _ in range(samples):
        t0 = trio.current_time()
        await bench_append(cluster.address(leader["node_id"]), cluster.cluster_id, [b"steady"], timeout_s=10)
        times.append(trio.current_time() - t0)
    return statistics.median(times)


def run(args: argparse.Namespace) -> int:
    import trio

    trials = max(5, args.trials)
    root = Path(tempfile.mkdtemp(prefix="rafka-bench-failover-"))
    cluster = RafkaCluster(root)
    results: list[float] = []
    try:
        for i in cluster.ids:
            cluster.start(i)
        trio.run(wait_leader, cluster, 60.0)
        steady = trio.run(steady_commit_s, cluster)
        for trial in range(1, trials + 1):
            leader = trio.run(wait_leader, cluster, 60.0)
            victim = leader["node_id"]
            survivors = [i for i in cluster.ids if i != victim]
            cluster.kill9(victim)
            seconds = trio.run(time_to_commit, cluster, survivors, args.trial_timeout_s)
            results.append(seconds)
            print(f"trial {trial}: killed leader {victim} (term {leader['term']}), "
                  f"new leader committed after {seconds * 1000:.0f} ms", flush=True)  # fmt: skip
            cluster.start(victim)
            trio.run(caught_up, cluster, victim, 60.0)
    finally:
        cluster.close()
        if not args.keep_dir:
            shutil.rmtree(root, ignore_errors=True)
    median_ms = statistics.median(results) * 1000
    max_ms = max(results) * 1000
    ratio = median_ms / (steady * 1000) if steady > 0 else float("nan")
    print(f"steady-state commit: {steady * 1000:.1f} ms")
    print(f"raft-failover: median {median_ms:.0f} ms (max {max_ms:.0f} ms) "
          f"(ratio {ratio:.0f} vs steady-state commit)")  # fmt: skip
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
