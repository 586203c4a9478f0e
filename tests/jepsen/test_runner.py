"""scripts/jepsen.py without a cluster: --help, and --check on saved
histories (verdict files, exit codes, the plot)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.jepsen.history import dump
from tests.jepsen.runner import summary_text

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "jepsen.py"


def load_script():
    spec = importlib.util.spec_from_file_location("jepsen_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ev(p, type_, f, value, t, **extra):
    return {"process": p, "type": type_, "f": f, "value": value, "time": t, **extra}


def valid_history():
    return [
        ev(9, "invoke", "create", "jr-0", 0.0), ev(9, "ok", "create", "jr-0", 0.05),
        ev(0, "invoke", "create", "jt-0", 0.1), ev(0, "ok", "create", "jt-0", 0.2),
        ev("nemesis", "info", "start", "partition-halves(...)", 0.3),
        ev(1, "invoke", "write", ["jr-0", "1001"], 0.4), ev(1, "ok", "write", ["jr-0", "1001"], 0.5),
        ev(2, "invoke", "read", ["jr-0", None], 0.6), ev(2, "ok", "read", ["jr-0", "1001"], 0.7),
        ev(3, "invoke", "create", "jt-1", 0.8),
        ev(3, "info", "create", "jt-1", 1.8, error="TIMEOUT"),
        ev("nemesis", "info", "stop", "partition-halves(...)", 2.0),
        ev(4, "invoke", "list", {"final": True, "node": 1}, 3.0),
        ev(4, "ok", "list", ["jr-0", "jt-0"], 3.1),
        ev("nemesis", "info", "node-status",
           {"1": {"applied_index": 7, "state_machine": {"digest": "d"}},
            "2": {"applied_index": 7, "state_machine": {"digest": "d"}}}, 3.2),
        ev("nemesis", "info", "node-exits", [], 3.3),
    ]


def test_help_lists_workloads_and_nemeses():
    """Goal: --help names every workload and nemesis (the CLI contract)."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    for word in ("metadata", "partition", "kill", "pause", "all", "--check", "--seed"):
        assert word in done.stdout


def test_check_valid_history(tmp_path, capsys):
    """Goal: --check on a valid saved history exits 0, writes results.json
    (valid true, each check), summary.txt and the plot;
    the verdict is the last line printed."""
    dump(valid_history(), tmp_path / "history.jsonl")
    code = load_script().main(["--check", str(tmp_path)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert out[-1].startswith("VALID")
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["valid"] is True
    assert set(results["checks"]) >= {"topics", "topics-linearizable", "registers",
                                      "convergence", "crashes"}
    summary = (tmp_path / "summary.txt").read_text()
    assert "verdict: VALID" in summary and "faults: 1" in summary
    assert "plot: latency.png" in summary
    assert (tmp_path / "latency.png").stat().st_size > 1000


def test_check_invalid_history_rewrites_verdict(tmp_path, capsys):
    """Goal: a lost acked create makes --check exit 1 with an INVALID verdict
    naming the failing check, replacing an older results.json."""
    events = [e for e in valid_history() if not (e["f"] == "list")]
    events += [ev(4, "invoke", "list", {"final": True, "node": 1}, 3.0),
               ev(4, "ok", "list", ["jr-0"], 3.1)]
    events.sort(key=lambda e: e["time"])
    dump(events, tmp_path / "history.jsonl")
    (tmp_path / "results.json").write_text(json.dumps({"valid": True, "checks": {}, "run": {}}))
    code = load_script().main(["--check", str(tmp_path)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 1
    assert last.startswith("INVALID") and "topics=False" in last
    assert json.loads((tmp_path / "results.json").read_text())["valid"] is False


def test_check_missing_history(tmp_path):
    """Goal: --check on a directory without a history is a harness error (2)."""
    assert load_script().main(["--check", str(tmp_path)]) == 2


def test_unknown_nemesis_is_rejected(tmp_path):
    """Goal: a bad --nemesis exits 2 before starting anything."""
    assert load_script().main(["--nemesis", "meteor", "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "history.jsonl").exists()


def test_summary_text_names_the_failing_check():
    """Goal: an invalid verdict's summary names the check and what it found."""
    results = {"valid": False, "counts": {"ok": 1, "fail": 0, "info": 0},
               "checks": {"topics": {"valid": False, "lost": ["jt-0"]}}, "run": {}}
    text = summary_text(results, [])
    assert "INVALID" in text and "lost=['jt-0']" in text and "plot: latency.png" in text


@pytest.mark.parametrize("bad", ["0,1", "5,2", "x"])
def test_bad_window_ranges(bad, tmp_path):
    """Goal: impossible fault/heal windows are refused by the parser."""
    with pytest.raises(SystemExit):
        load_script().build_parser().parse_args(["--fault-s", bad])
