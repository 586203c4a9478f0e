"""`rafka quorum up` says `ready` only once every broker is registered and
unfenced, so a topic with replication factor 3 can be created at once;
`brokers list` shows the controller's heartbeat times from any node; a
whole-cluster stop never leaves a node waiting out its controlled-shutdown
bound; and after a restart on the same directory the preferred leaders are
back without waiting for the periodic imbalance check."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.integration.conftest import rafka_cmd, subprocess_env
from tests.integration.test_quorum_up import pick_base_port, quorum_up, stop_quorum_up

pytestmark = pytest.mark.integration

TOPIC_PARTITIONS = 6


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(rafka_cmd(*args), capture_output=True, text=True, timeout=60, env=subprocess_env())


def log_events(data_dir, event: str) -> dict[int, list[dict]]:
    """node id -> that node's JSON log events named `event`."""
    out: dict[int, list[dict]] = {}
    for i in (1, 2, 3):
        path = data_dir / f"node-{i}" / "logs" / "node.jsonl"
        events = []
        for line in path.read_text(errors="replace").splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") == event:
                events.append(e)
        out[i] = events
    return out


def describe(bootstrap: str) -> dict:
    out = cli("topics", "describe", "p", "--consistent", "--json", "--bootstrap", bootstrap)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def wait_preferred(bootstrap: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        d = describe(bootstrap)
        if all(p["leader"] == p["replicas"][0] for p in d["partitions"]):
            return d
        assert time.monotonic() < deadline, f"preferred leaders not restored: {d['partitions']}"
        time.sleep(0.2)  # wait-ok: poll interval of a deadline-bounded wait


def test_ready_heartbeats_full_stop_and_preferred_leaders_after_restart(tmp_path):
    """Goal: right after `ready`, `brokers list` (linearizable) shows all
    three brokers unfenced, asked of any node it shows every broker's last
    heartbeat, and an rf=3 topic can be created; stopping the whole quorum
    never leaves a node's controlled shutdown to time out (it finishes, or
    gives up naming why); and with the periodic imbalance check set to ten
    minutes in node.toml (kept by the restart), the restarted quorum still
    returns every partition to its preferred leader."""
    base = pick_base_port()
    data_dir = tmp_path / "rafka-data"
    bootstrap = ",".join(f"127.0.0.1:{base + k}" for k in range(3))
    proc, reader = quorum_up(data_dir, base)
    try:
        reader.wait_line("ready ", timeout_s=60)
        out = cli("brokers", "list", "--consistent", "--json", "--bootstrap", bootstrap)
        assert out.returncode == 0, out.stderr
        rows = json.loads(out.stdout)
        assert [(r["node_id"], r["fenced"]) for r in rows] == [(1, False), (2, False), (3, False)]
        assert [r["port"] for r in rows] == [base, base + 1, base + 2]
        for k in range(3):  # the controller and the two others
            out = cli("brokers", "list", "--json", "--bootstrap", f"127.0.0.1:{base + k}")
            assert out.returncode == 0, out.stderr
            rows = json.loads(out.stdout)
            assert all(isinstance(r["last_heartbeat_ms"], int) for r in rows), rows
        text = cli("brokers", "list", "--bootstrap", bootstrap).stdout
        assert " ms ago" in text, text
        out = cli("topics", "create", "p", "--partitions", str(TOPIC_PARTITIONS), "--replication-factor", "3",
                  "--bootstrap", bootstrap)
        assert out.returncode == 0, out.stderr
        wait_preferred(bootstrap, timeout_s=20)
        stop_quorum_up(proc, reader)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    shutdowns = log_events(data_dir, "broker.controlled_shutdown")
    for i, events in shutdowns.items():
        assert events, f"node {i} logged no controlled shutdown"
        assert all(e["done"] or e.get("gave_up") for e in events), (i, events)

    for i in (1, 2, 3):
        path = data_dir / f"node-{i}" / "node.toml"
        text = path.read_text()
        assert "[raft]" in text and "[broker]" in text
        path.write_text(text.replace("preferred_election_interval_ms = 5000",
                                     "preferred_election_interval_ms = 600000"))
    proc, reader = quorum_up(data_dir, base)
    try:
        reader.wait_line("ready ", timeout_s=60)
        assert "preferred_election_interval_ms = 600000" in (data_dir / "node-1" / "node.toml").read_text()
        d = wait_preferred(bootstrap, timeout_s=20)
        assert len(d["partitions"]) == TOPIC_PARTITIONS
        assert sorted(p["leader"] for p in d["partitions"]) == [1, 1, 2, 2, 3, 3]
        stop_quorum_up(proc, reader)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
