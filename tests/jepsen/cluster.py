"""The harness's cluster: N real `rafka node start` processes whose every
directed link goes through a `LinkProxy`.

Wiring (why): node i's voters table maps node j to the proxy for link i->j,
which forwards to node j's real peer listener, so faulting proxy i->j is
exactly "i cannot send to j". The workload's admin client reaches node j's
peer listener (a "client" connection naming the cluster id) through the
client proxy for j; Kafka clients reach its Kafka listener through the
kafka proxy for j, which the node advertises. The harness's own control
traffic (status polls, digests) goes straight to the peer listeners: it is
not under test.

Process control: kill -9 (`kill`), restart on the same data dir and ports
(`launch`), SIGSTOP/SIGCONT (`pause`/`resume`). `stop_all` always ends every
process it started, by pid, also SIGCONT-ing paused ones first.
"""

from __future__ import annotations

import base64
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import structlog
import trio

from tests.jepsen.fuse.control import LazyFs
from tests.jepsen.proxy import LinkMode, LinkProxy

log = structlog.get_logger("jepsen.cluster")

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]  # so a node can import tests.* stand-ins


@dataclass(frozen=True)
class ClusterSettings:
    nodes: int = 3
    election_timeout_ms: int = 1000
    heartbeat_interval_ms: int = 100
    tick_ms: int = 50
    session_timeout_ms: int = 6000
    broker_heartbeat_interval_ms: int = 1000
    ready_timeout_s: float = 60.0
    stop_timeout_s: float = 10.0
    status_timeout_s: float = 2.0
    nodes_max: int = 9
    # argv prefix that runs a node (then "--config PATH" is appended); None
    # means the real `rafka node start`. Harness tests use a stand-in.
    node_command: tuple[str, ...] | None = None
    # Data workloads: every node also serves Kafka behind a client proxy
    # ("kafka->i", advertised so Metadata keeps clients behind it), with
    # short replica/group timings so faults move ISRs and groups in a run.
    kafka: bool = False
    replica_lag_time_max_ms: int = 3000
    group_session_timeout_min_ms: int = 1000
    group_initial_rebalance_delay_ms: int = 200
    # lose-unfsynced: every node's data dir is a lazyfs mount (tests/jepsen/
    # fuse) over node-i/backing; its logs/ passes straight through.
    lazyfs: bool = False


@dataclass
class NodeProc:
    node_id: int
    dir: Path
    peer_port: int
    kafka_port: int
    proc: subprocess.Popen | None = None
    paused: bool = False
    starts: int = 0
    fs: LazyFs | None = None

    @property
    def config_path(self) -> Path:
        return self.dir / "node.toml"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def new_cluster_id(rng: random.Random) -> str:
    return base64.urlsafe_b64encode(rng.randbytes(16)).rstrip(b"=").decode()


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Node listeners get ports below Linux's ephemeral range (32768-60999 by
# default): the clients' outgoing connections and the proxies' listeners
# take ephemeral ports, and one of them took a killed node's port before its
# restart (kafka seed 101: PORT_IN_USE at start-up).
NODE_PORT_RANGE = (20000, 32768)


PORTS_PER_NODE = 2  # peer, kafka


def _node_ports(nodes: int) -> list[tuple[int, ...]]:
    """PORTS_PER_NODE distinct ports per node, each bindable a moment ago."""
    pick = random.SystemRandom()
    chosen: list[int] = []
    while len(chosen) < PORTS_PER_NODE * nodes:
        port = pick.randrange(*NODE_PORT_RANGE)
        if port in chosen:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        chosen.append(port)
    n = PORTS_PER_NODE
    return [tuple(chosen[n * k: n * k + n]) for k in range(nodes)]


class Cluster:
    def __init__(self, root: Path, settings: ClusterSettings, rng: random.Random) -> None:
        if not 1 <= settings.nodes <= settings.nodes_max:
            raise ValueError(f"nodes must be 1..{settings.nodes_max}, got {settings.nodes}")
        self.root = Path(root)
        self.settings = settings
        self.cluster_id = new_cluster_id(rng)
        self.node_ids = list(range(1, settings.nodes + 1))
        self.nodes: dict[int, NodeProc] = {
            i: NodeProc(i, self.root / f"node-{i}", *ports)
            for i, ports in zip(self.node_ids, _node_ports(settings.nodes))
        }
        self.peer_proxies: dict[tuple[int, int], LinkProxy] = {}
        self.client_proxies: dict[int, LinkProxy] = {}
        self.kafka_proxies: dict[int, LinkProxy] = {}
        self._harness_killed: set[int] = set()

    # --- setup ---------------------------------------------------------------

    async def start_proxies(self, nursery: trio.Nursery) -> None:
        for i in self.node_ids:
            for j in self.node_ids:
                if i != j:
                    p = LinkProxy(f"{i}->{j}", HOST, self.nodes[j].peer_port)
                    await nursery.start(p.serve)
                    self.peer_proxies[(i, j)] = p
            c = LinkProxy(f"client->{i}", HOST, self.nodes[i].peer_port)
            await nursery.start(c.serve)
            self.client_proxies[i] = c
            if self.settings.kafka:
                k = LinkProxy(f"kafka->{i}", HOST, self.nodes[i].kafka_port)
                await nursery.start(k.serve)
                self.kafka_proxies[i] = k

    def bootstrap(self) -> list[str]:
        """The admin client's addresses: node peer listeners through the client proxies."""
        return [self.client_proxies[i].address for i in self.node_ids]

    def kafka_bootstrap(self) -> str:
        """bootstrap.servers for Kafka clients (through the kafka proxies)."""
        return ",".join(self.kafka_proxies[i].address for i in self.node_ids)

    def partition_dir(self, i: int, topic: str, partition: int) -> Path:
        return self.nodes[i].data_dir / "data" / f"{topic}-{partition}"

    def render_config(self, i: int) -> str:
        node = self.nodes[i]
        s = self.settings
        voters = []
        for j in self.node_ids:
            addr = f"{HOST}:{node.peer_port}" if j == i else self.peer_proxies[(i, j)].address
            voters.append(_q(f"{j}@{addr}"))
        kafka_top, kafka_tables = [], []
        if s.kafka:
            kafka_top = [f"advertised_kafka = {_q(self.kafka_proxies[i].address)}"]
            kafka_tables = [
                "[replica]", f"lag_time_max_ms = {s.replica_lag_time_max_ms}", "",
                "[group]", f"session_timeout_min_ms = {s.group_session_timeout_min_ms}",
                f"initial_rebalance_delay_ms = {s.group_initial_rebalance_delay_ms}", ""]
        return "\n".join([
            f"node_id = {i}",
            'roles = ["controller", "broker"]',
            f"data_dir = {_q(str(node.data_dir))}",
            f"voters = [{', '.join(voters)}]",
            *kafka_top,
            "",
            "[listeners]",
            f"peer = {_q(f'{HOST}:{node.peer_port}')}",
            *([f"kafka = {_q(f'{HOST}:{node.kafka_port}')}"] if s.kafka else []),
            "",
            "[raft]",
            f"election_timeout_ms = {s.election_timeout_ms}",
            f"heartbeat_interval_ms = {s.heartbeat_interval_ms}",
            f"tick_ms = {s.tick_ms}",
            "",
            "[broker]",
            f"session_timeout_ms = {s.session_timeout_ms}",
            f"heartbeat_interval_ms = {s.broker_heartbeat_interval_ms}",
            "",
            *kafka_tables,
        ])

    def prepare(self) -> None:
        """Write configs and format every data dir with one cluster id
        (with lazyfs: mount it first, so the format goes through it)."""
        for i, node in self.nodes.items():
            node.dir.mkdir(parents=True, exist_ok=True)
            node.config_path.write_text(self.render_config(i), encoding="utf-8")
            if self.settings.lazyfs:
                node.fs = LazyFs(node.dir / "backing", node.data_dir, node.dir / "lazyfs.log",
                                 passthrough=("logs",))
                node.fs.start()
            cmd = [sys.executable, "-m", "rafka.broker.cli", "format", "--dir", str(node.data_dir),
                   "--node-id", str(i), f"--cluster-id={self.cluster_id}"]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                raise RuntimeError(f"format node {i} failed: {done.stderr.strip()}")

    # --- processes -----------------------------------------------------------

    def node_argv(self, i: int) -> list[str]:
        if self.settings.node_command:
            return [*self.settings.node_command, "--config", str(self.nodes[i].config_path)]
        return [sys.executable, "-m", "rafka.broker.cli", "node", "start", "--config",
                str(self.nodes[i].config_path), "--no-terminal-log", "--exit-with-parent"]

    def launch(self, i: int) -> None:
        node = self.nodes[i]
        if node.alive:
            return
        node.starts += 1
        self._harness_killed.discard(i)
        out = open(node.dir / f"stdout-{node.starts}.log", "wb")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        node.proc = subprocess.Popen(self.node_argv(i), stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     cwd=str(node.dir), env=env)
        out.close()
        node.paused = False
        log.info("node_started", node_id=i, pid=node.proc.pid, start=node.starts)

    def launch_all(self) -> None:
        for i in self.node_ids:
            self.launch(i)

    def kill(self, i: int) -> None:
        node = self.nodes[i]
        if node.proc is None:
            return
        self._harness_killed.add(i)
        if node.proc.poll() is None:
            node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(timeout=10)
        node.paused = False
        log.info("node_killed", node_id=i)

    def kill_all(self) -> None:
        """kill -9 every running node at once (every signal is sent before
        waiting for any exit), like a power cut of the whole cluster."""
        for i, node in self.nodes.items():
            if node.proc is not None:
                self._harness_killed.add(i)
                if node.proc.poll() is None:
                    if node.paused:
                        node.proc.send_signal(signal.SIGCONT)
                    node.proc.send_signal(signal.SIGKILL)
        for i, node in self.nodes.items():
            if node.proc is not None:
                node.proc.wait(timeout=10)
                node.paused = False
        log.info("nodes_killed", node_ids=self.node_ids)

    def lose_unfsynced(self, i: int, torn_seed: int | None = None) -> dict:
        """kill -9 node i, then its lazyfs drops everything not fsynced
        (a power cut of that machine; with `torn_seed` a random part of
        it); returns what was lost."""
        node = self.nodes[i]
        if node.fs is None:
            raise RuntimeError("lose-unfsynced needs the cluster on lazyfs (ClusterSettings.lazyfs)")
        self.kill(i)
        lost = node.fs.drop(torn_seed)
        log.info("node_lost_unfsynced", node_id=i, **lost)
        return lost

    def lose_unfsynced_all(self, torn_seed: int | None = None) -> dict[int, dict]:
        """kill -9 every node at once, then every lazyfs drops what was not
        fsynced (a power cut of the whole cluster; torn: each node its own
        seed derived from `torn_seed`)."""
        if any(node.fs is None for node in self.nodes.values()):
            raise RuntimeError("lose-unfsynced-all needs the cluster on lazyfs (ClusterSettings.lazyfs)")
        self.kill_all()
        lost = {}
        for i, node in self.nodes.items():
            lost[i] = node.fs.drop(None if torn_seed is None else torn_seed + i)
            log.info("node_lost_unfsynced", node_id=i, **lost[i])
        return lost

    def pause(self, i: int) -> None:
        node = self.nodes[i]
        if node.alive and not node.paused:
            node.proc.send_signal(signal.SIGSTOP)
            node.paused = True
            log.info("node_paused", node_id=i)

    def resume(self, i: int) -> None:
        node = self.nodes[i]
        if node.alive and node.paused:
            node.proc.send_signal(signal.SIGCONT)
        node.paused = False

    def unexpected_exits(self) -> list[int]:
        """Nodes that exited on their own (not killed by the harness): a
        crash worth reporting. Call before `stop_all`."""
        return [i for i, n in self.nodes.items()
                if n.proc is not None and n.proc.poll() is not None and i not in self._harness_killed]

    def stop_all(self) -> None:
        """End every process this cluster started: SIGCONT, SIGTERM, then
        SIGKILL after stop_timeout_s. Safe to call more than once."""
        for node in self.nodes.values():
            if node.alive:
                if node.paused:
                    node.proc.send_signal(signal.SIGCONT)
                node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes.values():
            if node.proc is None:
                continue
            try:
                node.proc.wait(timeout=self.settings.stop_timeout_s)
            except subprocess.TimeoutExpired:
                os.kill(node.proc.pid, signal.SIGKILL)
                node.proc.wait(timeout=10)
            node.paused = False
        for node in self.nodes.values():
            if node.fs is not None:
                node.fs.stop()

    def collect_logs(self, dest: Path) -> None:
        """Copy every node's stdout/stderr files and JSON logs
        (DATA_DIR/logs, or the lazyfs backing's logs/ once unmounted) to
        dest/node-i/, so a run directory diagnoses itself."""
        for i, node in self.nodes.items():
            target = dest / f"node-{i}"
            target.mkdir(parents=True, exist_ok=True)
            for f in sorted(node.dir.glob("stdout-*.log")) + sorted(node.dir.glob("lazyfs.log")):
                shutil.copy2(f, target / f.name)
            for logs in (node.data_dir / "logs", node.dir / "backing" / "logs"):
                if logs.is_dir():
                    for f in sorted(logs.iterdir()):
                        if f.is_file():
                            shutil.copy2(f, target / f.name)
                    break

    # --- network faults ------------------------------------------------------

    def partition(self, blocked: set[tuple[int, int]], mode: str) -> None:
        link_mode = LinkMode(mode)
        for link, proxy in self.peer_proxies.items():
            if link in blocked:
                proxy.set_mode(link_mode)
            else:
                proxy.heal()

    def set_delay(self, delay_ms: int) -> None:
        for proxy in self.peer_proxies.values():
            proxy.set_delay(delay_ms)

    def heal_network(self) -> None:
        for proxy in self._all_proxies():
            proxy.heal()

    def close_proxies(self) -> None:
        for proxy in self._all_proxies():
            proxy.close()

    def _all_proxies(self) -> list[LinkProxy]:
        return [*self.peer_proxies.values(), *self.client_proxies.values(),
                *self.kafka_proxies.values()]
