"""The harness's cluster wiring and process control, with a stand-in node
program (a sleeping Python process) so no rafka node is needed."""

from __future__ import annotations

import random
import sys
import time

import trio

from rafka.broker.node.config import load_config
from tests.jepsen.cluster import Cluster, ClusterSettings
from tests.jepsen.proxy import LinkMode


def wait_for(predicate, timeout_s=5.0) -> bool:
    """Poll a condition until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)  # wait-ok: poll interval, bounded by the deadline above
    return predicate()


class SleeperCluster(Cluster):
    def node_argv(self, i):
        return [sys.executable, "-c", "import time; time.sleep(120)"]  # wait-ok: a stand-in node that never exits


def status_of(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]


async def test_configs_route_every_link_through_a_proxy(tmp_path):
    """Goal: node i's voters table names the proxy for link i->j (which
    forwards to j's real peer port) and its own real peer listener; the
    admin client's proxy for j forwards to j's peer listener too (no client
    listener any more); the file is a valid node config."""
    cluster = Cluster(tmp_path, ClusterSettings(nodes=3), random.Random(1))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await cluster.start_proxies(nursery)
            for i in cluster.node_ids:
                path = tmp_path / f"n{i}.toml"
                path.write_text(cluster.render_config(i))
                cfg = load_config(path)
                assert cfg.node_id == i
                assert cfg.peer_listener.port == cluster.nodes[i].peer_port
                for j in cluster.node_ids:
                    port = cfg.voters[j].port
                    if j == i:
                        assert port == cluster.nodes[i].peer_port
                    else:
                        proxy = cluster.peer_proxies[(i, j)]
                        assert port == proxy.port and proxy.target_port == cluster.nodes[j].peer_port
                assert cluster.client_proxies[i].target_port == cluster.nodes[i].peer_port
            assert len(cluster.peer_proxies) == 6 and len(cluster.client_proxies) == 3
            cluster.close_proxies()


async def test_partition_faults_only_the_grudge_links(tmp_path):
    """Goal: partition() sets exactly the blocked links' mode and heals the
    rest; heal_network() restores every link."""
    cluster = Cluster(tmp_path, ClusterSettings(nodes=3), random.Random(1))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await cluster.start_proxies(nursery)
            cluster.partition({(1, 2), (2, 1)}, "blackhole")
            modes = {k: p.mode for k, p in cluster.peer_proxies.items()}
            assert modes[(1, 2)] is LinkMode.BLACKHOLE and modes[(2, 1)] is LinkMode.BLACKHOLE
            assert modes[(1, 3)] is LinkMode.PASS
            cluster.set_delay(50)
            cluster.heal_network()
            assert all(p.mode is LinkMode.PASS and p.delay_ms == 0
                       for p in cluster.peer_proxies.values())
            cluster.close_proxies()


def test_kill_pause_restart_and_cleanup(tmp_path):
    """Goal: kill -9 ends a node (not an unexpected exit), pause stops it
    (state T), resume continues it, launch restarts it, and stop_all leaves
    no process alive, paused ones included."""
    cluster = SleeperCluster(tmp_path, ClusterSettings(nodes=3, stop_timeout_s=5), random.Random(2))
    for node in cluster.nodes.values():
        node.dir.mkdir(parents=True)
    try:
        cluster.launch_all()
        pids = {i: n.proc.pid for i, n in cluster.nodes.items()}
        cluster.kill(1)
        assert not cluster.nodes[1].alive
        assert cluster.unexpected_exits() == []
        cluster.pause(2)
        assert wait_for(lambda: status_of(pids[2]) == "T")
        cluster.resume(2)
        assert wait_for(lambda: status_of(pids[2]) != "T")
        cluster.launch(1)
        assert cluster.nodes[1].alive and cluster.nodes[1].proc.pid != pids[1]
        cluster.pause(3)
    finally:
        cluster.stop_all()
    assert all(not n.alive for n in cluster.nodes.values())


def test_kill_all_ends_every_node_and_heal_restarts_them(tmp_path):
    """Goal: kill-all ends every node at once (a paused one too), none
    counts as an unexpected exit, and the nemesis's heal restarts them all."""
    from tests.jepsen.nemesis_driver import NemesisState, heal_all

    cluster = SleeperCluster(tmp_path, ClusterSettings(nodes=3, stop_timeout_s=5), random.Random(3))
    for node in cluster.nodes.values():
        node.dir.mkdir(parents=True)
    try:
        cluster.launch_all()
        old = {i: n.proc.pid for i, n in cluster.nodes.items()}
        cluster.pause(2)
        state = NemesisState()
        cluster.kill_all()
        state.killed.update(cluster.node_ids)
        assert not any(n.alive for n in cluster.nodes.values())
        assert cluster.unexpected_exits() == []
        heal_all(cluster, state)
        assert all(n.alive and n.proc.pid != old[i] for i, n in cluster.nodes.items())
    finally:
        cluster.stop_all()
    assert all(not n.alive for n in cluster.nodes.values())
