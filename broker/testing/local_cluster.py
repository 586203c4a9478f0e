"""LocalCluster: N real rafka nodes as child processes, for tests.

Why processes and not threads: the code under test talks to a broker over
real sockets, and tests of failure behaviour need a broker that can really
die (kill -9) and come back with its data directory. Each node runs
`python -m rafka.broker.cli node start --exit-with-parent`, so a test run
that is itself killed never leaves nodes behind; `close()` also kills every
node by pid. Every wait has a deadline; a node that fails to start raises
ClusterError with its last log lines, never hangs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rafka.broker.node.config import render_config
from rafka.broker.node.meta_properties import format_dir, new_cluster_id
from rafka.netproto.ports import free_ports

NODES_MAX = 9
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
POLL_S = 0.1
LOG_LINES_SHOWN = 20
TEST_RAFT = {"election_timeout_ms": 300, "heartbeat_interval_ms": 60, "tick_ms": 20}
TEST_BROKER = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 300}


class ClusterError(Exception):
    """The cluster could not start or answer in time; says which node and why."""


class LocalCluster:
    def __init__(self, root: Path, nodes: int = 1, *, replica: dict | None = None) -> None:
        if not 1 <= nodes <= NODES_MAX:
            raise ValueError(f"nodes must be in 1..{NODES_MAX}, got {nodes}")
        self.root = Path(root)
        self.ids = list(range(1, nodes + 1))
        self.cluster_id = new_cluster_id()
        self.replica = replica
        ports = free_ports(3 * nodes)
        self.kafka_ports = dict(zip(self.ids, ports[:nodes]))
        self.peer_ports = dict(zip(self.ids, ports[nodes: 2 * nodes]))
        self.metrics_ports = dict(zip(self.ids, ports[2 * nodes:]))
        self.procs: dict[int, subprocess.Popen] = {}

    # ------------------------------------------------------------ layout
    @property
    def bootstrap_servers(self) -> str:
        return ",".join(self.kafka_address(i) for i in self.ids)

    def kafka_address(self, i: int) -> str:
        return f"127.0.0.1:{self.kafka_ports[i]}"

    def metrics_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.metrics_ports[i]}/metrics"

    def node_dir(self, i: int) -> Path:
        return self.root / f"node-{i}"

    def _write_configs(self) -> None:
        voters = {j: f"127.0.0.1:{self.peer_ports[j]}" for j in self.ids}
        for i in self.ids:
            format_dir(self.node_dir(i), i, self.cluster_id)
            (self.node_dir(i) / "node.toml").write_text(render_config(
                node_id=i, data_dir=str(self.node_dir(i)), peer=f"127.0.0.1:{self.peer_ports[i]}",
                kafka=self.kafka_address(i), voters=voters,
                metrics=f"127.0.0.1:{self.metrics_ports[i]}", raft=TEST_RAFT, broker=TEST_BROKER,
                replica=self.replica,
            ))

    # ------------------------------------------------------------ processes
    def start(self, timeout_s: float = READY_TIMEOUT_S) -> "LocalCluster":
        """Format, write configs, start every node and wait until ready."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_configs()
        for i in self.ids:
            self.start_node(i)
        self.wait_ready(timeout_s)
        return self

    def start_node(self, i: int) -> None:
        assert not self.alive(i), f"node {i} is running"
        cmd = [sys.executable, "-m", "rafka.broker.cli", "node", "start", "--config",
               str(self.node_dir(i) / "node.toml"), "--no-terminal-log", "--exit-with-parent"]
        with open(self.node_dir(i) / "node.out", "ab") as out:
            self.procs[i] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                             start_new_session=True)

    def alive(self, i: int) -> bool:
        return i in self.procs and self.procs[i].poll() is None

    def stop_node(self, i: int, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM (a clean, controlled shutdown), then kill -9 past the deadline."""
        proc = self.procs[i]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        return self.kill_node(i)

    def kill_node(self, i: int) -> int:
        """kill -9: the node gets no chance to flush or hand anything over."""
        proc = self.procs[i]
        if proc.poll() is None:
            proc.kill()
        return proc.wait(timeout=STOP_TIMEOUT_S)

    def restart_node(self, i: int, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Start a stopped or killed node again on its data directory and
        wait until the whole cluster is ready."""
        if self.alive(i):
            self.stop_node(i)
        self.start_node(i)
        self.wait_ready(timeout_s)

    def close(self) -> None:
        """Kill every node by pid and reap it (idempotent)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass

    # ------------------------------------------------------------ readiness
    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until every running node is a live broker in the Kafka Metadata of
        the cluster (so a client's bootstrap works); ClusterError past the
        deadline or when a node exits, with its last log lines."""
        from confluent_kafka.admin import AdminClient

        # log_level 2: no "connection refused" lines while nodes are still starting
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 2})
        want = {i for i in self.ids if self.alive(i)}
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            for i in self.ids:
                if i in want and not self.alive(i):
                    raise ClusterError(f"node {i} exited with code {self.procs[i].returncode}\n"
                                       + self.last_log_lines(i))
            try:
                md = admin.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
                last = sorted(md.brokers)
                if want <= set(md.brokers) and md.controller_id in md.brokers:
                    return
            except Exception as exc:  # noqa: BLE001 - not answering yet
                last = repr(exc)
            time.sleep(POLL_S)  # wait-ok: bounded by the deadline above
        tails = "\n".join(self.last_log_lines(i) for i in self.ids)
        raise ClusterError(f"cluster not ready after {timeout_s:g}s (brokers seen: {last})\n{tails}")

    def last_log_lines(self, i: int, n: int = LOG_LINES_SHOWN) -> str:
        lines: list[str] = []
        for name in ("node.out", "logs/node.jsonl"):
            path = self.node_dir(i) / name
            if path.exists():
                lines += path.read_text(errors="replace").splitlines()[-n:]
        return f"--- node {i} ({self.node_dir(i)}) last lines:\n" + "\n".join(lines[-n:])
