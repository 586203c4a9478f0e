"""raft: committed metadata-log entries per second on a 3-node loopback quorum vs PySyncObj.

rafka side: three `rafka node start --bench` processes on 127.0.0.1 with
fsync on (the default); a load generator in this process keeps a bounded
window of 100-byte entries in flight through the client API (BenchAppend
requests of --entries-per-request entries each) and counts entries whose
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
import socket
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


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


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


# --------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    rafka_rate = pysync_rate = None
    if not args.skip_pysyncobj:
        pysync_rate = run_pysyncobj(args)
    if not args.skip_rafka:
        from bench_raft_rafka import run_rafka  # noqa: F401 - placeholder until wired

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
