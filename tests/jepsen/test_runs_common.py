"""One bounded `scripts/jepsen.py` run as a subprocess, for the run tests
(not a test module itself: no test_ functions)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def run_script(tmp_path: Path, workload: str, nemesis: str, seed: int, time_limit_s: float,
               windows: str = "2,4", timeout_s: float = 240, extra: tuple[str, ...] = ()) -> dict:
    """Run and assert a VALID verdict; returns results.json."""
    out = tmp_path / f"run-{workload}-{nemesis}-{seed}"
    cmd = [sys.executable, str(SCRIPT), "--workload", workload, "--nemesis", nemesis,
           "--time-limit", str(time_limit_s), "--rate", "40", "--concurrency", "4",
           "--nodes", "3", "--seed", str(seed), "--out", str(out),
           "--fault-s", windows, "--heal-s", windows, "--quiet", "2", "--op-timeout", "4", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)
    where = f"workload={workload} nemesis={nemesis} seed={seed} out={out}"
    if done.returncode != 0 and out.exists():
        where += f" kept={keep(out)}"
    assert done.returncode in (0, 1), f"harness error ({where}):\n{done.stderr[-3000:]}"
    results = json.loads((out / "results.json").read_text())
    summary = (out / "summary.txt").read_text()
    assert done.stdout.strip().splitlines()[-1].startswith("VALID" if results["valid"] else "INVALID")
    assert results["valid"], f"jepsen found a problem ({where}):\n{summary}"
    assert done.returncode == 0
    return results
