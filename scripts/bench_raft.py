"""raft: committed metadata-log entries per second on a 3-node loopback quorum vs PySyncObj.

rafka side: three `rafka node start --bench` processes on 127.0.0.1 with
fsync on (the default); a load generator in this process keeps a bounded
window of 100-byte entries in flight through the tool API on the peer
listener (BenchAppend requests of --entries-per-request entries each, the
connection naming the cluster id) and counts entries whose
commit was acknowledged.

Baseline, same run: a three-process PySyncObj cluster on loopback, in memory
(no journal, no dump file), a replicated append; the load runs inside the
leader's process with the same window of in-flight entries (callbacks).

Last line: `raft-commit: X entries/s (ratio R vs pysyncobj)`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration-s", type=float, default=10.0, help="measured load per system")
    p.add_argument("--window", type=int, default=1024, help="entries in flight (both systems)")
    p.add_argument("--entries-per-request", type=int, default=32, help="rafka entries per request")
    p.add_argument("--entry-bytes", type=int, default=100)
    p.add_argument("--skip-pysyncobj", action="store_true")
    p.add_argument("--skip-rafka", action="store_true")
    p.add_argument("--keep-dir", action="store_true", help="keep the rafka data dir")


def _reap(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ----------------------------------------------------------------- pysyncobj


def pysyncobj_node(args: argparse.Namespace) -> int:
    """One PySyncObj node; the one that becomes leader runs the load."""
    from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated

    ports = [int(p) for p in args.ports.split(",")]
    me = ports[args.index]
    others = [f"127.0.0.1:{p}" for p in ports if p != me]

    class Appender(SyncObj):
        def __init__(self) -> None:
            conf = SyncObjConf(dynamicMembershipChange=False, journalFile=None, fullDumpFile=None)
            super().__init__(f"127.0.0.1:{me}", others, conf)
            self.count = 0
            self.bytes = 0

        @replicated
        def append(self, data):
            self.count += 1
            self.bytes += len(data)
            return self.count

    obj = Appender()
    give_up = time.monotonic() + 30
    while obj._getLeader() is None and time.monotonic() < give_up:
        time.sleep(0.05)
    if not obj._isLeader():
        time.sleep(args.duration_s + 60)  # the parent ends us sooner
        return 0
    window = threading.BoundedSemaphore(args.window)
    lock = threading.Lock()
    done = [0, 0]  # committed, failed

    def callback(result, error) -> None:
        with lock:
            done[0 if error == FAIL_REASON.SUCCESS else 1] += 1
        window.release()

    payload = b"x" * args.entry_bytes
    start = time.monotonic()
    end = start + args.duration_s
    while time.monotonic() < end:
        if window.acquire(timeout=1.0):
            obj.append(payload, callback=callback)
    elapsed = time.monotonic() - start
    with lock:
        committed, failed = done
    print(json.dumps({"committed": committed, "failed": failed, "seconds": elapsed}), flush=True)
    obj.destroy()
    return 0


def run_pysyncobj(args: argparse.Namespace) -> float:
    from rafka.netproto.ports import free_ports

    try:  # the baseline's nodes import it: say so here, not as "no result"
        import pysyncobj  # noqa: F401
    except ImportError:
        raise SystemExit("raft-commit: the baseline needs pysyncobj, which is not installed: "
                         "pip install -e '.[bench]' (or --skip-pysyncobj)") from None

    ports = free_ports(3)
    procs = []
    try:
        for i in range(3):
            cmd = [
                sys.executable, __file__, "--pysyncobj-node", "--index", str(i),
                "--ports", ",".join(map(str, ports)), "--duration-s", str(args.duration_s),
                "--window", str(args.window), "--entry-bytes", str(args.entry_bytes),
            ]  # fmt: skip
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
        result = _first_json_line(procs, timeout_s=args.duration_s + 60)
    finally:
        _reap(procs)
    rate = result["committed"] / result["seconds"]
    print(f"pysyncobj: {result['committed']} entries in {result['seconds']:.1f}s = {rate:.0f}/s")
    return rate


def _first_json_line(procs: list[subprocess.Popen], timeout_s: float) -> dict:
    found: list[dict] = []

    def reader(proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            if line.startswith("{"):
                found.append(json.loads(line))
                return

    threads = [threading.Thread(target=reader, args=(p,), daemon=True) for p in procs]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout_s
    while not found and time.monotonic() < deadline:
        time.sleep(0.1)
    if not found:
        raise RuntimeError("pysyncobj cluster produced no result (no leader?)")
    return found[0]


# --------------------------------------------------------------------- rafka


class RafkaCluster:
    """Three `rafka node start` processes on loopback under a temp dir."""

    def __init__(self, root: Path, bench: bool = True, n: int = 3) -> None:
        from rafka.broker.node.config import render_config
        from rafka.broker.node.meta_properties import format_dir, new_cluster_id
        from rafka.netproto.ports import free_ports

        self.root = root
        self.ids = list(range(1, n + 1))
        self.peer = dict(zip(self.ids, free_ports(n)))
        self.bench = bench
        self.procs: dict[int, subprocess.Popen] = {}
        self.cluster_id = cluster_id = new_cluster_id()
        voters = {j: f"127.0.0.1:{self.peer[j]}" for j in self.ids}
        for i in self.ids:
            node_dir = root / f"node-{i}"
            format_dir(node_dir, i, cluster_id)
            (node_dir / "node.toml").write_text(
                render_config(node_id=i, data_dir=".", peer=voters[i], voters=voters)
            )

    def address(self, i: int) -> str:
        """Node i's peer listener (tools name self.cluster_id)."""
        return f"127.0.0.1:{self.peer[i]}"

    def start(self, i: int) -> None:
        cmd = [
            sys.executable, "-m", "rafka.broker.cli", "node", "start", "--no-terminal-log",
            "--config", str(self.root / f"node-{i}" / "node.toml"),
        ] + (["--bench"] if self.bench else [])  # fmt: skip
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        with open(self.root / f"node-{i}" / "node.out", "ab") as out:
            self.procs[i] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)

    def kill9(self, i: int) -> None:
        self.procs[i].kill()
        self.procs[i].wait(timeout=10)

    def close(self) -> None:
        _reap(list(self.procs.values()))


async def wait_leader(cluster: RafkaCluster, timeout_s: float, exclude=()) -> dict:
    """Poll every live node until one reports itself leader; return its status."""
    import trio

    from rafka.broker.client.node_client import AdminError, node_status

    with trio.fail_after(timeout_s):
        while True:
            for i in cluster.ids:
                if i in exclude:
                    continue
                try:
                    st = await node_status(cluster.address(i), cluster.cluster_id, timeout_s=1.0)
                except AdminError:
                    continue
                if st["role"] == "leader" and st["leader_id"] == i:
                    return st
            await trio.sleep(0.02)


async def rafka_load(address: str, cluster_id: str, args: argparse.Namespace) -> tuple[int, float]:
    """Keep `window` entries in flight in requests of `entries_per_request`."""
    import trio

    from rafka.broker.client.node_client import connect
    from rafka.broker.node.messages import BenchAppendRequest

    epr = args.entries_per_request
    workers = max(1, args.window // epr)
    entries = [b"x" * args.entry_bytes] * epr
    committed = 0
    async with connect(address, cluster_id) as conn:
        start = trio.current_time()
        end = start + args.duration_s

        async def worker() -> None:
            nonlocal committed
            while trio.current_time() < end:
                await conn.call(BenchAppendRequest(entries=entries), timeout_s=30)
                committed += epr

        async with trio.open_nursery() as nursery:
            for _ in range(workers):
                nursery.start_soon(worker)
        elapsed = trio.current_time() - start
    return committed, elapsed


def run_rafka(args: argparse.Namespace) -> float:
    import trio

    root = Path(tempfile.mkdtemp(prefix="rafka-bench-raft-"))
    cluster = RafkaCluster(root)
    try:
        for i in cluster.ids:
            cluster.start(i)
        leader = trio.run(wait_leader, cluster, 60.0)
        address = cluster.address(leader["node_id"])
        committed, elapsed = trio.run(rafka_load, address, cluster.cluster_id, args)
    finally:
        cluster.close()
        if not args.keep_dir:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
    rate = committed / elapsed
    print(f"rafka: {committed} entries in {elapsed:.1f}s = {rate:.0f}/s (fsync on)")
    return rate


# --------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    rafka_rate = pysync_rate = None
    if not args.skip_pysyncobj:
        pysync_rate = run_pysyncobj(args)
    if not args.skip_rafka:
        rafka_rate = run_rafka(args)
    if rafka_rate is None:
        return 0
    ratio = rafka_rate / pysync_rate if pysync_rate else float("nan")
    print(f"raft-commit: {rafka_rate:.0f} entries/s (ratio {ratio:.2f} vs pysyncobj)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--pysyncobj-node", action="store_true")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--ports", default="")
    ns = parser.parse_args()
    if ns.pysyncobj_node:
        sys.exit(pysyncobj_node(ns))
    sys.exit(run(ns))
