"""scripts/bench.py --json-out: every figure line parsed, the last one the figure."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_cli", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_figure_lines_parse_with_and_without_ratio():
    """Goal: the documented last-line shapes of the benchmarks parse into
    name, value, unit, ratio and baseline; other lines are ignored."""
    bench = load_bench()
    figs = bench.parse_figures([
        "warming up...",
        "produce: 41.5 MiB/s, 120,000 records/s (100 B), p99 8.1 ms at half load (ratio 0.62 vs disk limit for RF=3)",
        "raft-commit: 5873 entries/s (ratio nan vs pysyncobj)",
        "kafka-requests: 9100 req/s, p99 2.0 ms (ratio 0.45 vs trio echo)",
        "group: 15 commits/s (ratio 0.90 vs produce), coordinator failover 6144 ms",
    ])
    assert [f["name"] for f in figs] == ["produce", "raft-commit", "kafka-requests", "group"]
    assert figs[3]["value"] == 15 and figs[3]["unit"] == "commits/s" and figs[3]["ratio"] == 0.9
    assert figs[0]["value"] == 41.5 and figs[0]["unit"] == "MiB/s"
    assert figs[0]["ratio"] == 0.62 and figs[0]["baseline"] == "disk limit for RF=3"
    assert figs[1]["ratio"] is None and figs[1]["baseline"] == "pysyncobj"
    assert figs[2]["unit"] == "req/s" and figs[2]["ratio"] == 0.45


def test_tee_keeps_complete_lines():
    """Goal: output still reaches the terminal, and lines split across writes are kept whole."""
    import io

    bench = load_bench()
    out = io.StringIO()
    tee = bench.Tee(out)
    tee.write("a: 1 x")
    tee.write(" (ratio 2 vs y)\npartial")
    assert out.getvalue() == "a: 1 x (ratio 2 vs y)\npartial" and tee.lines == ["a: 1 x (ratio 2 vs y)"]
