"""A missing dependency fails loudly, in one line naming what to install;
it never turns into a skipped test or a quietly weaker run.

Each test hides one dependency (an import made to fail through sys.modules,
or a tool/device made absent) and checks the error: matplotlib for the
latency plot every run and --check write (Jepsen's run writes its plot, a
missing plot is an error), pyfuse3 / fusermount3 / /dev/fuse for lazyfs.
"""

from __future__ import annotations

import sys

import pytest

from tests.jepsen import runner
from tests.jepsen.fuse import control
from tests.jepsen.history import dump
from tests.jepsen.nemesis import parse_nemeses
from tests.jepsen.plot import MATPLOTLIB_MISSING, PlotDependencyError, plot_latency
from tests.jepsen.test_runner import load_script, valid_history


@pytest.fixture
def no_matplotlib(monkeypatch):
    """`import matplotlib` raises ImportError (a None entry in sys.modules)."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError):
        import matplotlib  # noqa: F401


def test_plot_without_matplotlib_raises_naming_the_install(no_matplotlib, tmp_path):
    """Goal: plot_latency raises PlotDependencyError (one line, the pip
    command) instead of returning a note and writing no plot."""
    with pytest.raises(PlotDependencyError) as info:
        plot_latency(valid_history(), tmp_path / "latency.png")
    msg = str(info.value)
    assert msg == MATPLOTLIB_MISSING and "\n" not in msg
    assert "matplotlib" in msg and "pip install -e '.[test]'" in msg
    assert not (tmp_path / "latency.png").exists()


def test_script_check_without_matplotlib_exits_2_in_one_line(no_matplotlib, tmp_path, capsys):
    """Goal: `jepsen.py --check` refuses (exit 2, one error line naming the
    install) before judging, so no verdict is written without its plot."""
    dump(valid_history(), tmp_path / "history.jsonl")
    assert load_script().main(["--check", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [f"error: {MATPLOTLIB_MISSING}"]
    assert captured.out == ""
    assert not (tmp_path / "results.json").exists()
    assert not (tmp_path / "latency.png").exists()


def test_script_run_without_matplotlib_exits_2_before_starting(no_matplotlib, tmp_path, capsys):
    """Goal: a run refuses up front (exit 2, one line), starting nothing,
    rather than running for minutes and ending without its plot."""
    out = tmp_path / "run"
    assert load_script().main(["--nemesis", "none", "--time-limit", "1", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {MATPLOTLIB_MISSING}"]
    assert not out.exists()


async def test_runner_without_matplotlib_refuses_before_the_cluster(no_matplotlib, tmp_path):
    """Goal: runner.run (the harness API under the script) raises RunError
    with the install line before any node or history exists."""
    opts = runner.RunOptions(out=tmp_path / "run", nemeses=parse_nemeses("none"),
                             time_limit_s=1, node_command=(sys.executable, "-c", "raise SystemExit(3)"))
    with pytest.raises(runner.RunError, match="matplotlib") as info:
        await runner.run(opts)
    assert str(info.value) == MATPLOTLIB_MISSING
    assert not (tmp_path / "run" / "history.jsonl").exists()
    assert not (tmp_path / "run" / "cluster").exists()


def _lazyfs_present(monkeypatch):
    """Everything lazyfs needs looks present; each case then removes one."""
    monkeypatch.setattr(control.os, "geteuid", lambda: 0)
    real_exists = control.os.path.exists
    monkeypatch.setattr(control.os.path, "exists",
                        lambda p: True if p == "/dev/fuse" else real_exists(p))
    monkeypatch.setattr(control.shutil, "which",
                        lambda name, *a, **k: "/usr/bin/fusermount3" if name == "fusermount3" else None)
    monkeypatch.setitem(sys.modules, "pyfuse3", object())


@pytest.mark.parametrize("missing, expected", [
    ("pyfuse3", "lazyfs needs pyfuse3 (apt-get install -y libfuse3-dev pkg-config; "
                "pip install -e '.[test]' or '.[jepsen]')"),
    ("fusermount3", "lazyfs needs fusermount3 (apt-get install -y fuse3)"),
    ("/dev/fuse", "lazyfs needs /dev/fuse, which this machine does not have"),
])
def test_lazyfs_missing_piece_refuses_the_run(missing, expected, monkeypatch, tmp_path, capsys):
    """Goal: without pyfuse3, fusermount3 or /dev/fuse, unavailable_reason
    names it (and how to install it), and a lose-unfsynced run exits 2 with
    that line: never a run without the nemesis (a silently weaker run)."""
    _lazyfs_present(monkeypatch)
    assert control.unavailable_reason() is None
    if missing == "pyfuse3":
        monkeypatch.setitem(sys.modules, "pyfuse3", None)
    elif missing == "fusermount3":
        monkeypatch.setattr(control.shutil, "which", lambda name, *a, **k: None)
    else:
        monkeypatch.setattr(control.os.path, "exists", lambda p: p != "/dev/fuse")
    assert control.unavailable_reason() == expected
    out = tmp_path / "run"
    assert load_script().main(["--nemesis", "lose-unfsynced", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == \
        [f"error: nemesis lose-unfsynced refused: {expected}"]
    assert not out.exists()
