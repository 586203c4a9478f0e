"""Process-cluster fixture for integration tests (reusable by other tests).

`cluster_factory` builds a `ProcessCluster`: N real `rafka node start`
processes on 127.0.0.1 with free ports, data under tmp_path, each node's
peer traffic optionally routed through one cuttable `LinkProxy` per directed
link. With `observers=K`, K more broker-only nodes (ids n+1..n+K, roles
["broker"], not in anyone's voters table) follow the metadata log as
learners. Every wait has a deadline; every process is cleaned up by pid at
teardown (SIGKILL whatever is still alive), whatever the test did.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from rafka.broker.node.config import render_config
from rafka.broker.node.meta_properties import format_dir, new_cluster_id
from rafka.netproto.ports import free_ports
from tests.integration.proxy import LinkProxy

# Fast-but-not-flaky timings for two shared cores.
TEST_RAFT = {"election_timeout_ms": 600, "heartbeat_interval_ms": 100, "tick_ms": 50}
REPO_ROOT = Path(__file__).resolve().parents[2]


def rafka_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "rafka.broker.cli", *args]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("RAFKA_BOOTSTRAP", None)
    return env


async def wait_for(
    probe: Callable[[], Awaitable[Any]], *, timeout_s: float, what: str, poll_s: float = 0.1
) -> Any:
    """Call probe until it returns something truthy; fail with `what` at the deadline.

    Exceptions from probe (a node down, a refused connection) count as "not yet".
    """
    last: Any = None
    with trio.move_on_after(timeout_s):
        while True:
            try:
                last = await probe()
            except Exception as exc:  # noqa: BLE001 - a failed probe is "not yet"
                last = exc
            else:
                if last:
                    return last
            await trio.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last: {last!r}")


class ProcessCluster:
    def __init__(
        self,
        root: Path,
        n: int,
        *,
        nursery: trio.Nursery,
        proxied: bool = False,
        raft: dict | None = None,
        broker: dict | None = None,
        bench: bool = False,
        observers: int = 0,
        kafka: bool = False,
    ) -> None:
        self.root = root
        self.voter_ids = list(range(1, n + 1))
        self.ids = list(range(1, n + observers + 1))
        self.nursery = nursery
        self.proxied = proxied
        self.raft = dict(TEST_RAFT if raft is None else raft)
        self.broker = None if broker is None else dict(broker)
        self.bench = bench
        self.cluster_id = new_cluster_id()
        self.procs: dict[int, subprocess.Popen] = {}
        self.proxies: dict[tuple[int, int], LinkProxy] = {}
        total = len(self.ids)
        self.peer_ports = dict(zip(self.ids, free_ports(total)))
        # With kafka=True every node also serves the Kafka protocol.
        self.kafka_ports = dict(zip(self.ids, free_ports(total))) if kafka else {}

    # --- layout -----------------------------------------------------------
    def node_dir(self, i: int) -> Path:
        return self.root / f"node-{i}"

    def config_path(self, i: int) -> Path:
        return self.node_dir(i) / "node.toml"

    def peer_address(self, i: int) -> str:
        """Node i's own peer listener (never a proxy): where the tests' own
        status, digest, barrier and admin requests go, naming the cluster id."""
        return f"127.0.0.1:{self.peer_ports[i]}"

    @property
    def bootstrap(self) -> str:
        """The peer listeners, for broker/client's AdminClient (with
        cluster_id=self.cluster_id)."""
        return ",".join(self.peer_address(i) for i in self.ids)

    def admin(self, bootstrap: str | None = None, timeout_s: float = 15.0):
        """An AdminClient (msgpack admin requests, as a tool of the peer listeners)."""
        from rafka.broker.client.admin_client import AdminClient

        return AdminClient(bootstrap or self.bootstrap, timeout_s, cluster_id=self.cluster_id)

    def kafka_address(self, i: int) -> str:
        return f"127.0.0.1:{self.kafka_ports[i]}"

    @property
    def kafka_bootstrap(self) -> str:
        """bootstrap.servers for a Kafka client (needs kafka=True)."""
        return ",".join(self.kafka_address(i) for i in self.ids)

    async def setup(self) -> None:
        """Format every node, start proxies if asked, write the configs."""
        if self.proxied:
            for src in self.ids:
                for dst in self.ids:
                    if src != dst:
                        proxy = LinkProxy(self.peer_ports[dst])
                        await proxy.start(self.nursery)
                        self.proxies[(src, dst)] = proxy
        for i in self.ids:
            format_dir(self.node_dir(i), i, self.cluster_id)
            voters = {}
            for j in self.voter_ids:
                port = self.peer_ports[j]
                if self.proxied and j != i:
                    port = self.proxies[(i, j)].port
                voters[j] = f"127.0.0.1:{port}"
            self.config_path(i).write_text(
                render_config(
                    node_id=i,
                    data_dir=str(self.node_dir(i)),
                    peer=self.peer_address(i),
                    voters=voters,
                    raft=self.raft,
                    broker=self.broker,
                    roles=("controller", "broker") if i in self.voter_ids else ("broker",),
                    kafka=self.kafka_address(i) if self.kafka_ports else None,
                )
            )

    # --- processes --------------------------------------------------------
    def start(self, i: int) -> None:
        assert i not in self.procs or self.procs[i].poll() is not None, f"node {i} running"
        args = ["node", "start", "--config", str(self.config_path(i))]
        if self.bench:
            args.append("--bench")
        out = open(self.node_dir(i) / "node.out", "ab")
        try:
            self.procs[i] = subprocess.Popen(
                rafka_cmd(*args),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=subprocess_env(),
                start_new_session=True,
            )
        finally:
            out.close()

    def start_all(self) -> None:
        for i in self.ids:
            self.start(i)

    def alive(self, i: int) -> bool:
        return i in self.procs and self.procs[i].poll() is None

    def signal(self, i: int, sig: int) -> None:
        os.kill(self.procs[i].pid, sig)

    async def wait_exit(self, i: int, timeout_s: float = 15.0) -> int:
        proc = self.procs[i]

        async def exited():
            return proc.poll() is not None

        await wait_for(exited, timeout_s=timeout_s, what=f"node {i} (pid {proc.pid}) to exit")
        return proc.returncode

    async def kill(self, i: int) -> None:
        """kill -9 and reap."""
        self.signal(i, signal.SIGKILL)
        await self.wait_exit(i)

    async def stop(self, i: int, timeout_s: float = 15.0) -> int:
        """SIGTERM; the exit code of a clean stop is 0."""
        self.signal(i, signal.SIGTERM)
        return await self.wait_exit(i, timeout_s)

    def close(self) -> None:
        """Teardown: SIGKILL every node still alive, by pid, and reap it."""
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGCONT)
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def node_log(self, i: int) -> str:
        try:
            return (self.node_dir(i) / "node.out").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    # --- network faults ---------------------------------------------------
    def isolate(self, i: int) -> None:
        """Cut every peer link into and out of node i."""
        assert self.proxied, "isolate needs proxied=True"
        for (src, dst), proxy in self.proxies.items():
            if i in (src, dst):
                proxy.cut()

    def heal_all(self) -> None:
        for proxy in self.proxies.values():
            proxy.heal()

    # --- observation ------------------------------------------------------
    async def status(self, i: int, timeout_s: float = 2.0) -> dict:
        """Node i's own view (no redirect to the leader)."""
        from rafka.broker.client.node_client import node_status

        return await node_status(self.peer_address(i), self.cluster_id, timeout_s=timeout_s)

    async def statuses(self, ids=None) -> dict[int, dict]:
        out: dict[int, dict] = {}
        for i in ids or self.ids:
            if self.alive(i):
                try:
                    out[i] = await self.status(i)
                except Exception:  # noqa: BLE001 - a node that does not answer is absent
                    pass
        return out

    async def wait_leader(self, among=None, timeout_s: float = 20.0, exclude=()) -> dict:
        """Wait until one live node (not in exclude) says it leads; return its status."""
        ids = [i for i in (among or self.ids) if i not in exclude]

        async def probe():
            for i, st in (await self.statuses(ids)).items():
                if st.get("role") == "leader" and st.get("leader_id") == i:
                    return st
            return None

        return await wait_for(probe, timeout_s=timeout_s, what=f"a leader among {ids}")

    async def append(self, i: int, entries: list[bytes], timeout_s: float = 10.0) -> dict:
        from rafka.broker.client.node_client import bench_append

        return await bench_append(self.peer_address(i), self.cluster_id, entries, timeout_s=timeout_s)


@pytest.fixture
async def cluster_factory(tmp_path, nursery):
    """make(n=3, proxied=False, raft=None, broker=None) -> a set-up ProcessCluster (not started)."""
    clusters: list[ProcessCluster] = []

    async def make(n: int = 3, **kwargs) -> ProcessCluster:
        cluster = ProcessCluster(tmp_path / f"cluster-{len(clusters)}", n, nursery=nursery, **kwargs)
        clusters.append(cluster)
        await cluster.setup()
        return cluster

    try:
        yield make
    finally:
        for cluster in clusters:
            cluster.close()
