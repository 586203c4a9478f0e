"""Short real Jepsen runs: real node processes behind the fault proxies.

Bounded: the default suite runs one short run of each nemesis kind (about
10 s of workload, 2-3 s fault windows) and one mixed run (`all` nemeses);
the same runs at 30 s each are marked slow (RAFKA_SLOW=1). Each run
is a `scripts/jepsen.py` subprocess with a hard timeout, so its nodes are
cleaned up by the runner even when the test fails. A failing run's seed and
directory are in the assertion message. Never skipped: a missing part of
the node is a failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.jepsen.nemesis import KINDS

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "jepsen.py"
RUN_TIMEOUT_S = 150  # hard bound per run (setup + workload + heal + checks)

pytestmark = pytest.mark.integration


def jepsen_run(tmp_path: Path, nemesis: str, seed: int, time_limit_s: float,
               windows: str = "2,4") -> dict:
    out = tmp_path / f"run-{nemesis}-{seed}"
    cmd = [sys.executable, str(SCRIPT), "--workload", "metadata", "--nemesis", nemesis,
           "--time-limit", str(time_limit_s), "--rate", "30", "--concurrency", "4",
           "--nodes", "3", "--seed", str(seed), "--out", str(out),
           "--fault-s", windows, "--heal-s", windows, "--quiet", "3", "--op-timeout", "3"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=ROOT)
    where = f"nemesis={nemesis} seed={seed} out={out}"
    assert done.returncode in (0, 1), f"harness error ({where}):\n{done.stderr[-3000:]}"
    results = json.loads((out / "results.json").read_text())
    summary = (out / "summary.txt").read_text()
    assert done.stdout.strip().splitlines()[-1].startswith("VALID" if results["valid"] else "INVALID")
    assert results["valid"], f"jepsen found a problem ({where}):\n{summary}"
    assert done.returncode == 0
    return results


def test_mixed_nemesis_run(tmp_path):
    """Goal: under every kind of fault, mixed on a schedule, the metadata
    stays correct: no lost or phantom topics, linearizable config registers
    and listings, converged nodes; and the run actually did work."""
    results = jepsen_run(tmp_path, "all", seed=1, time_limit_s=20)
    assert results["counts"]["ok"] > 20
    assert results["run"]["schedule"], "the nemesis must have scheduled faults"


@pytest.mark.parametrize("kind", KINDS)
def test_each_nemesis_short(tmp_path, kind):
    """Goal: each fault kind alone, in a short bounded run, leaves a valid
    history; the run did work and its nemesis actually injected a fault."""
    results = jepsen_run(tmp_path, kind, seed=7, time_limit_s=10, windows="2,3")
    assert results["counts"]["ok"] > 10
    assert results["run"]["schedule"], "the nemesis must have scheduled faults"


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_each_nemesis(tmp_path, kind):
    """Goal: each fault kind alone, over a longer run, leaves a valid history."""
    results = jepsen_run(tmp_path, kind, seed=7, time_limit_s=30)
    assert results["counts"]["ok"] > 10
