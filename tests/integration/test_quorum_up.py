"""`rafka quorum up` as a user runs it, and `rafka node start` refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

from rafka.broker.node.config import render_config
from rafka.broker.node.meta_properties import format_dir
from tests.integration.conftest import free_ports, rafka_cmd, subprocess_env

pytestmark = pytest.mark.integration


def pick_base_port() -> int:
    """A base port whose Kafka (base..base+2), peer (base+100..) and client
    (base+200..) ports are free."""
    for _ in range(50):
        (base,) = free_ports(1)
        if base > 60000:  # room for base+302
            continue
        wanted = [base + k for k in (0, 1, 2, 100, 101, 102, 200, 201, 202, 300, 301, 302)]
        if _all_free(wanted):
            return base
    raise RuntimeError("no free port range found")


def _all_free(ports) -> bool:
    import socket

    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


class LineReader:
    """Collects a process's stdout lines in a thread so waits can have deadlines."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(proc,), daemon=True)
        self._thread.start()

    def _run(self, proc) -> None:
        for line in proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_line(self, prefix: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {prefix!r} line in {timeout_s}s; got {self.lines}")
                self._cond.wait(left)


def node_pids(lines: list[str]) -> list[int]:
    return [int(line.split("pid=")[1]) for line in lines if line.startswith("node ") and "pid=" in line]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def quorum_up(data_dir, base: int) -> tuple[subprocess.Popen, LineReader]:
    proc = subprocess.Popen(
        rafka_cmd("quorum", "up", "--dir", str(data_dir), "--base-port", str(base),
                  "--status-interval-s", "1"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=subprocess_env(),
        start_new_session=True,
    )  # fmt: skip
    return proc, LineReader(proc)


def stop_quorum_up(proc: subprocess.Popen, reader: LineReader) -> None:
    """SIGTERM quorum up: it exits 0 and leaves no node process behind."""
    pids = node_pids(reader.lines)
    assert len(pids) == 3, reader.lines
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=40) == 0, reader.lines
    assert [p for p in pids if pid_alive(p)] == []


def test_quorum_up_ready_status_shape_stop_and_resume(tmp_path):
    """Goal: `quorum up` prints one `ready bootstrap=...` line naming the three
    Kafka ports, `quorum status --json` has DESIGN.md's shape, SIGTERM stops
    every child, and a second `quorum up` on the same dir resumes the same
    cluster (same id, log kept)."""
    base = pick_base_port()
    data_dir = tmp_path / "rafka-data"
    proc, reader = quorum_up(data_dir, base)
    try:
        ready = reader.wait_line("ready ", timeout_s=60)
        expected = ",".join(f"127.0.0.1:{base + k}" for k in range(3))
        assert ready == f"ready bootstrap={expected}"
        assert sum(1 for ln in reader.lines if ln.startswith("ready")) == 1
        # One metrics line per node, and each URL serves Prometheus' format.
        urls = [ln.split()[2] for ln in reader.lines if ln.startswith("metrics node-")]
        assert urls == [f"http://127.0.0.1:{base + 200 + k}/metrics" for k in range(3)]
        for url in urls:
            with urllib.request.urlopen(url, timeout=10) as resp:
                assert b'rafka_raft_role{role="leader"}' in resp.read()

        out = subprocess.run(
            rafka_cmd("quorum", "status", "--json", "--bootstrap", expected),
            capture_output=True, text=True, timeout=30, env=subprocess_env(),
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        status = json.loads(out.stdout)
        assert set(status) >= {"cluster_id", "leader_id", "term", "commit_index", "voters", "observers"}
        assert isinstance(status["leader_id"], int) and status["commit_index"] >= 1
        assert [v["node_id"] for v in status["voters"]] == [1, 2, 3]
        for v in status["voters"]:
            assert set(v) >= {"node_id", "log_end_offset", "lag", "last_contact_ms"}
        assert status["observers"] == []
        reader.wait_line("status leader=", timeout_s=15)  # the live status
        stop_quorum_up(proc, reader)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    proc, reader = quorum_up(data_dir, base)
    try:
        reader.wait_line("ready ", timeout_s=60)
        out = subprocess.run(
            rafka_cmd("quorum", "status", "--json", "--bootstrap", f"127.0.0.1:{base}"),
            capture_output=True, text=True, timeout=30, env=subprocess_env(),
        )  # fmt: skip
        again = json.loads(out.stdout)
        assert again["cluster_id"] == status["cluster_id"]
        assert again["term"] > status["term"]
        assert again["commit_index"] > status["commit_index"]  # old log + a new no-op
        stop_quorum_up(proc, reader)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_node_start_refuses_unformatted_and_foreign_dirs(tmp_path):
    """Goal: `node start` exits non-zero with one line on an unformatted data
    dir and on a dir formatted for another node."""
    (peer,) = free_ports(1)
    cfg = tmp_path / "node.toml"
    cfg.write_text(
        render_config(
            node_id=1, data_dir="data",
            peer=f"127.0.0.1:{peer}", voters={1: f"127.0.0.1:{peer}"},
        )  # fmt: skip
    )

    def start():
        return subprocess.run(
            rafka_cmd("node", "start", "--config", str(cfg)),
            capture_output=True, text=True, timeout=30, env=subprocess_env(),
        )  # fmt: skip

    first = start()
    assert first.returncode != 0
    assert first.stderr.strip().count("\n") == 0 and "UNFORMATTED_DATA_DIR" in first.stderr
    format_dir(tmp_path / "data", 2)
    second = start()
    assert second.returncode != 0
    assert second.stderr.strip().count("\n") == 0 and "INCONSISTENT_NODE_ID" in second.stderr


def _node_files(data_dir) -> dict:
    """Every node.toml and meta.properties under a quorum dir, by path."""
    return {
        p.relative_to(data_dir): p.read_bytes()
        for name in ("node.toml", "meta.properties")
        for p in sorted(data_dir.glob(f"node-*/{name}"))
    }


def test_second_quorum_up_on_a_running_dir_refuses_and_changes_nothing(tmp_path):
    """Goal: while a quorum runs on DIR, a second `quorum up --dir DIR` (on
    other ports) exits non-zero at once with one DATA_DIR_LOCKED line,
    starts no node, rewrites no node.toml, and the first quorum keeps
    serving (it used to start three more nodes on the same dirs)."""
    base = pick_base_port()
    data_dir = tmp_path / "rafka-data"
    proc, reader = quorum_up(data_dir, base)
    try:
        reader.wait_line("ready ", timeout_s=60)
        before = _node_files(data_dir)
        assert len(before) == 6
        other = pick_base_port()
        second = subprocess.run(
            rafka_cmd("quorum", "up", "--dir", str(data_dir), "--base-port", str(other),
                      "--ready-timeout-s", "5", "--restarts-max", "0"),
            capture_output=True, text=True, timeout=60, env=subprocess_env(),
        )  # fmt: skip
        assert second.returncode != 0
        assert "pid=" not in second.stdout, second.stdout  # no node was started
        err = second.stderr.strip()
        assert err.startswith("error: DATA_DIR_LOCKED:") and "\n" not in err, second.stderr
        assert f"(pid {proc.pid})" in err
        assert _node_files(data_dir) == before
        out = subprocess.run(
            rafka_cmd("quorum", "status", "--json", "--bootstrap", f"127.0.0.1:{base}"),
            capture_output=True, text=True, timeout=30, env=subprocess_env(),
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["leader_id"] in (1, 2, 3)
        stop_quorum_up(proc, reader)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
