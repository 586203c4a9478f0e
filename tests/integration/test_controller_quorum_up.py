"""`rafka quorum up` says `ready` only once every broker is registered and
unfenced, so a topic with replication factor 3 can be created at once."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.integration.conftest import rafka_cmd, subprocess_env
from tests.integration.test_quorum_up import pick_base_port, quorum_up, stop_quorum_up

pytestmark = pytest.mark.integration


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(rafka_cmd(*args), capture_output=True, text=True, timeout=60, env=subprocess_env())


def test_ready_means_every_broker_unfenced(tmp_path):
    """Goal: right after the `ready` line, `brokers list` (linearizable)
    shows all three brokers unfenced and an rf=3 topic can be created."""
    base = pick_base_port()
    proc, reader = quorum_up(tmp_path / "rafka-data", base)
    try:
        reader.wait_line("ready ", timeout_s=60)
        bootstrap = ",".join(f"127.0.0.1:{base + k}" for k in range(3))
        out = cli("brokers", "list", "--consistent", "--json", "--bootstrap", bootstrap)
        assert out.returncode == 0, out.stderr
        rows = json.loads(out.stdout)
        assert [(r["node_id"], r["fenced"]) for r in rows] == [(1, False), (2, False), (3, False)]
        assert [r["port"] for r in rows] == [base, base + 1, base + 2]
        out = cli("topics", "create", "t", "--partitions", "3", "--replication-factor", "3",
                  "--bootstrap", bootstrap)
        assert out.returncode == 0, out.stderr
        stop_quorum_up(proc, reader)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
