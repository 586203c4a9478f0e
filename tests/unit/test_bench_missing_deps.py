"""Goal: a benchmark whose baseline or plot needs a missing library stops
at once with one line naming what to install (before any cluster starts),
instead of a raw ImportError after the load or a misleading "no result"."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def load(name: str):
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec = importlib.util.spec_from_file_location(f"{name}_under_test", SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(SCRIPTS))


def hide(monkeypatch, top: str) -> None:
    for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, top, None)


def test_produce_plot_without_matplotlib_stops_before_the_cluster(monkeypatch, tmp_path):
    bench = load("bench_produce")
    hide(monkeypatch, "matplotlib")
    started = []
    monkeypatch.setattr(bench, "QuorumUp", lambda *a, **k: started.append(a))
    with pytest.raises(SystemExit) as e:
        bench.run(argparse.Namespace(plot=str(tmp_path / "p.png"), dir=str(tmp_path)))
    assert "needs matplotlib" in str(e.value) and "pip install" in str(e.value)
    assert started == [] and "\n" not in str(e.value)


def test_raft_baseline_without_pysyncobj_says_what_to_install(monkeypatch):
    bench = load("bench_raft")
    hide(monkeypatch, "pysyncobj")
    started = []
    monkeypatch.setattr(bench.subprocess, "Popen", lambda *a, **k: started.append(a))
    with pytest.raises(SystemExit) as e:
        bench.run_pysyncobj(argparse.Namespace(duration_s=1, window=1, entry_bytes=1))
    assert "needs pysyncobj" in str(e.value) and "--skip-pysyncobj" in str(e.value)
    assert started == []
