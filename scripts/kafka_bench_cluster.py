"""A three-node cluster laid out by `rafka quorum up` for the Kafka data
path benchmarks (bench_produce, bench_consume, bench_partition_failover).

Runs `rafka quorum up --nodes 3 --dir DIR --base-port B` as a child
process (its supervisor restarts a node killed by a benchmark), waits for
its `ready bootstrap=...` line, and stops it with SIGTERM (SIGKILL past a
deadline). A node's pid is read from its data directory's `.lock` file,
which the node writes, so a benchmark kills exactly that process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
BASE_PORT_TRIES_MAX = 50
OUTPUT_LINES_MAX = 200


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port(nodes: int = 3) -> int:
    """A base port whose Kafka (+0), peer (+100), client (+200) and metrics (+300) ports are all free."""
    import random

    for _ in range(BASE_PORT_TRIES_MAX):
        base = random.randrange(20000, 60000)
        if all(_free(base + off + i) for off in (0, 100, 200, 300) for i in range(nodes)):
            return base
    raise RuntimeError("no free base port found")


class QuorumUp:
    def __init__(self, root: Path | None = None, nodes: int = 3) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="rafka-bench-"))
        self.nodes = nodes
        self.base_port = free_base_port(nodes)
        self.proc: subprocess.Popen | None = None
        self.bootstrap: str | None = None
        self.output: list[str] = []

    def kafka_address(self, i: int) -> str:
        return f"127.0.0.1:{self.base_port + i - 1}"

    def node_dir(self, i: int) -> Path:
        return self.root / f"node-{i}"

    def partition_dir(self, i: int, topic: str, partition: int) -> Path:
        return self.node_dir(i) / "data" / f"{topic}-{partition}"

    def node_pid(self, i: int) -> int:
        return int((self.node_dir(i) / ".lock").read_text().split()[0])

    def start(self) -> "QuorumUp":
        cmd = [sys.executable, "-m", "rafka.broker.cli", "quorum", "up", "--nodes", str(self.nodes),
               "--dir", str(self.root), "--base-port", str(self.base_port), "--restarts-max", "100",
               "--status-interval-s", "3600"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        ready = threading.Event()

        def reader():
            for line in self.proc.stdout:
                if len(self.output) < OUTPUT_LINES_MAX:
                    self.output.append(line.rstrip())
                if line.startswith("ready bootstrap="):
                    self.bootstrap = line.strip().split("=", 1)[1]
                    ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(READY_TIMEOUT_S):
            self.stop()
            raise RuntimeError("quorum up not ready:\n" + "\n".join(self.output[-20:]))
        return self

    def kill_node(self, i: int) -> int:
        pid = self.node_pid(i)
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def __enter__(self) -> "QuorumUp":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})


def create_topic(bootstrap: str, name: str, partitions: int, replication: int = 3, configs=None,
                 timeout_s: float = 30.0) -> None:
    """Create a topic and wait until every partition has a leader and a full ISR."""
    from confluent_kafka.admin import NewTopic

    client = admin(bootstrap)
    client.create_topics([NewTopic(name, partitions, replication, config=configs or {})])[name].result(timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        t = client.list_topics(name, timeout=5).topics[name]
        if len(t.partitions) == partitions and all(
                p.leader >= 0 and len(p.isrs) == replication for p in t.partitions.values()):
            return
        time.sleep(0.1)  # wait-ok: bounded by the deadline
    raise RuntimeError(f"topic {name}: partitions without a leader or a full ISR after {timeout_s}s")


def leader_of(bootstrap: str, topic: str, partition: int) -> tuple[int, tuple[int, ...]]:
    p = admin(bootstrap).list_topics(topic, timeout=5).topics[topic].partitions[partition]
    return p.leader, tuple(sorted(p.isrs))
