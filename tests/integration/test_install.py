"""A non-editable install (`pip install .`) into a fresh venv, used from a
directory outside the checkout, as a new user would.

Goal: the installed `rafka` works on its own (no checkout on the path):
`rafka --help` answers, `rafka quorum up` reaches `ready` and stops cleanly,
`import rafka.log` resolves inside the venv, and the generic top-level names
`log`, `raft`, `broker` and `netproto` are not importable there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_quorum_up import LineReader, pick_base_port, stop_quorum_up

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT_S = 600


def clean_env() -> dict:
    """The environment without anything that would put the checkout on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=120, env=clean_env())
    done = subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", str(ROOT)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=clean_env(), cwd=where,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return where


def run_in(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, env=clean_env(), cwd=cwd)


def test_installed_package_has_only_rafka_names(venv, tmp_path):
    """Goal: rafka's modules live under the venv's rafka/ and nowhere else."""
    py = str(venv / "bin" / "python")
    out = run_in(venv, tmp_path, py, "-c", "import rafka.log.segment as s, rafka.broker.cli.main; print(s.__file__)")
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(venv), out.stdout
    for name in ("log", "raft", "broker", "netproto"):
        out = run_in(venv, tmp_path, py, "-c", f"import {name}")
        assert out.returncode != 0 and "ModuleNotFoundError" in out.stderr, (name, out.stdout, out.stderr)
    out = run_in(venv, tmp_path, str(venv / "bin" / "rafka"), "--help")
    assert out.returncode == 0 and "quorum" in out.stdout, out.stderr


def test_installed_quorum_up_reaches_ready_and_stops(venv, tmp_path):
    """Goal: the installed `rafka quorum up`, run outside the checkout,
    prints `ready bootstrap=` and SIGTERM leaves no node running."""
    base = pick_base_port()
    proc = subprocess.Popen(
        [str(venv / "bin" / "rafka"), "quorum", "up", "--dir", "data", "--base-port", str(base)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env(), cwd=tmp_path,
        start_new_session=True,
    )  # fmt: skip
    reader = LineReader(proc)
    try:
        ready = reader.wait_line("ready ", timeout_s=90)
        assert ready.startswith("ready bootstrap=127.0.0.1:"), reader.lines
        stop_quorum_up(proc, reader)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
