"""The whole runner (proxies, nemesis driver, workload, heal, final reads,
node status, checkers, verdict files) against stand-in node processes
(tests/jepsen/fake_node.py): a linearizable fake must come out valid, a fake
that loses acknowledged creates must come out invalid."""

from __future__ import annotations

import io
import json
import sys

import pytest
import trio

from tests.jepsen.nemesis import parse_nemeses
from tests.jepsen.runner import RunOptions, run

pytestmark = pytest.mark.integration


def options(tmp_path, *extra: str, nemesis: str = "all", seed: int = 5,
            time_limit_s: float = 7) -> RunOptions:
    return RunOptions(
        out=tmp_path / "run", nemeses=parse_nemeses(nemesis), time_limit_s=time_limit_s, rate=40,
        seed=seed, concurrency=4, quiet_s=1, fault_s=(1.5, 2.5), heal_s=(1, 2),
        op_timeout_s=2, final_timeout_s=15, converge_timeout_s=10, registers=2,
        node_command=(sys.executable, "-m", "tests.jepsen.fake_node", *extra))


async def test_runner_against_a_correct_fake(tmp_path):
    """Goal: a full run with faults yields a valid verdict, every output
    file, fault windows in the history, and nodes that converge."""
    with trio.fail_after(90):
        results = await run(options(tmp_path), progress_out=io.StringIO())
    out = tmp_path / "run"
    assert results["valid"], (out / "summary.txt").read_text()
    assert results["counts"]["ok"] > 50
    assert results["checks"]["convergence"]["valid"] is True
    events = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert any(e["process"] == "nemesis" and e["f"] == "start" for e in events)
    assert (out / "summary.txt").read_text().startswith("verdict: VALID")
    assert json.loads((out / "results.json").read_text())["valid"] is True
    for i in (1, 2, 3):  # every node's output kept in the run dir for diagnosis
        assert (out / "logs" / f"node-{i}" / "stdout-1.log").is_file()


async def test_runner_flags_lost_creates(tmp_path):
    """Goal: a fake that acknowledges creates it never stores is caught."""
    with trio.fail_after(90):
        results = await run(options(tmp_path, "--lose-creates", nemesis="none", time_limit_s=3),
                            progress_out=io.StringIO())
    assert results["valid"] is False
    assert results["checks"]["topics"]["lost_count"] > 0
