"""One bounded `scripts/jepsen.py` run as a subprocess, for the run tests
(not a test module itself: no test_ functions).

An ordered run (`schedule="ordered"`) gets the shortest time limit under
which every named nemesis kind surely has a fault window, and its history
must show each kind actually injected (started, with a resolved target):
one short run then covers a group of kinds instead of one run per kind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.jepsen.history import fault_windows, load
from tests.jepsen.nemesis import ordered_min_time_limit_s, parse_nemeses

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "jepsen.py"
# A failing run is copied here (without the nodes' data dirs) so it outlives
# pytest's temp-dir rotation (a kafka seed 11 history was lost that way).
KEEP_DIR = Path(os.environ.get("RAFKA_JEPSEN_KEEP",
                               os.path.join(tempfile.gettempdir(), "rafka-jepsen-failures")))


def keep(out: Path) -> Path:
    """Copy a failing run's directory to KEEP_DIR; returns the copy."""
    dest = KEEP_DIR / f"{out.name}-{time.strftime('%Y%m%dT%H%M%S')}"
    shutil.copytree(out, dest, ignore=shutil.ignore_patterns("cluster"), dirs_exist_ok=True)
    return dest


def windows_s(windows: str) -> tuple[float, float]:
    """'2,3' -> (2.0, 3.0), as scripts/jepsen.py reads --fault-s/--heal-s."""
    lo, _, hi = windows.partition(",")
    return float(lo), float(hi or lo)


def ordered_time_limit_s(nemesis: str, windows: str) -> float:
    """The shortest time limit under which an ordered run of `nemesis`
    (same fault and heal windows) gives every kind a whole window."""
    w = windows_s(windows)
    return ordered_min_time_limit_s(len(parse_nemeses(nemesis)), w, w)


# a fault started with nothing to hit: no leader to target, no link to cut
_NOT_INJECTED = ("node=None", "target=None lost=None", "links=[]")


def injected_kinds(out: Path) -> list[str]:
    """The nemesis kinds the run's history shows started against a real
    target, in order (a leader-targeted fault that found no leader is left
    out)."""
    kinds = []
    for w in fault_windows(load(out / "history.jsonl")):
        desc = w["fault"]
        if desc == "final heal" or any(m in desc for m in _NOT_INJECTED):
            continue
        kinds.append(desc.split("(", 1)[0].split(" ", 1)[0])
    return kinds


def run_script(tmp_path: Path, workload: str, nemesis: str, seed: int,
               time_limit_s: float | None = None, windows: str = "2,4", timeout_s: float = 240,
               extra: tuple[str, ...] = (), schedule: str = "random", rate: float = 40,
               quiet_s: float = 2, op_timeout_s: float = 4) -> dict:
    """Run and assert a VALID verdict; returns results.json. An ordered run
    (time limit computed when None) must also have injected every kind."""
    if time_limit_s is None:
        assert schedule == "ordered", "only an ordered run computes its time limit"
        time_limit_s = ordered_time_limit_s(nemesis, windows)
    out = tmp_path / f"run-{workload}-{nemesis.replace(',', '+')}-{seed}"
    cmd = [sys.executable, str(SCRIPT), "--workload", workload, "--nemesis", nemesis,
           "--schedule", schedule, "--time-limit", str(time_limit_s), "--rate", str(rate),
           "--concurrency", "4", "--nodes", "3", "--seed", str(seed), "--out", str(out),
           "--fault-s", windows, "--heal-s", windows, "--quiet", str(quiet_s),
           "--op-timeout", str(op_timeout_s), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)
    where = f"workload={workload} nemesis={nemesis} schedule={schedule} seed={seed} out={out}"
    if done.returncode != 0 and out.exists():
        where += f" kept={keep(out)}"
    assert done.returncode in (0, 1), f"harness error ({where}):\n{done.stderr[-3000:]}"
    results = json.loads((out / "results.json").read_text())
    summary = (out / "summary.txt").read_text()
    assert done.stdout.strip().splitlines()[-1].startswith("VALID" if results["valid"] else "INVALID")
    assert results["valid"], f"jepsen found a problem ({where}):\n{summary}"
    assert done.returncode == 0
    if schedule == "ordered":
        missed = set(parse_nemeses(nemesis)) - set(injected_kinds(out))
        assert not missed, f"nemesis kinds never injected: {sorted(missed)} ({where}):\n{summary}"
    return results
