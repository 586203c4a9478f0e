"""The controller on a real three-node cluster: topics administered from the
CLI, Kafka error names for bad requests (sent concurrently to every node,
changing nothing), metadata surviving a restart of the whole quorum, and a
kill -9 of a broker (fenced within its session timeout, leaderships moved,
preferred leaders restored when it returns)."""

from __future__ import annotations

import json

import pytest
import trio

from rafka.broker.client.admin_client import AdminClient
from tests.integration.conftest import rafka_cmd, subprocess_env, wait_for

pytestmark = pytest.mark.integration

SESSION_TIMEOUT_MS = 3000
HEARTBEAT_MS = 300
CLI_TIMEOUT_S = 60


# Shorter broker sessions than the default, so a fence is quick.
BROKER_TIMING = {"session_timeout_ms": SESSION_TIMEOUT_MS, "heartbeat_interval_ms": HEARTBEAT_MS}


async def cli(*args: str) -> tuple[int, str, str]:
    with trio.fail_after(CLI_TIMEOUT_S):
        proc = await trio.run_process(rafka_cmd(*args), capture_stdout=True, capture_stderr=True,
                                      check=False, env=subprocess_env())
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


async def brokers_unfenced(client: AdminClient, ids) -> bool:
    brokers = {b.node_id: b for b in await client.list_brokers(consistent=True)}
    return all(i in brokers and not brokers[i].fenced for i in ids)


async def start_and_wait(cluster, client: AdminClient) -> None:
    cluster.start_all()
    await cluster.wait_leader(timeout_s=30)
    await wait_for(lambda: brokers_unfenced(client, cluster.ids), timeout_s=30,
                   what="every broker registered and unfenced")


async def statuses(client: AdminClient, cluster) -> dict[int, tuple[int, str]]:
    out = {}
    for i in cluster.ids:
        s = await client.metadata_status(cluster.peer_address(i))
        out[i] = (s.metadata_offset, s.digest)
    return out


async def test_topics_cli_errors_and_full_restart(cluster_factory):
    """Goal: topics created/altered/deleted through the CLI show up in the
    documented JSON shapes; invalid requests fail with one-line Kafka errors
    and change nothing; after stopping and restarting every node all topics
    and configs are still there and every node has the same image."""
    cluster = await cluster_factory(3, broker=BROKER_TIMING, kafka=True)
    b = cluster.kafka_bootstrap
    client = cluster.admin()
    await start_and_wait(cluster, client)

    rc, out, err = await cli("topics", "create", "orders", "--partitions", "6", "--replication-factor", "3",
                             "--config", "retention.ms=1000", "--bootstrap", b, "--json")
    assert rc == 0, err
    rc, out, err = await cli("topics", "create", "logs", "--partitions", "2", "--replication-factor", "1",
                             "--bootstrap", cluster.kafka_address(3))
    assert rc == 0, err

    rc, out, err = await cli("topics", "describe", "orders", "--consistent", "--json", "--bootstrap", b)
    assert rc == 0, err
    d = json.loads(out)
    assert d["name"] == "orders" and d["configs"] == {"retention.ms": "1000"}
    assert [p["partition"] for p in d["partitions"]] == list(range(6))
    for p in d["partitions"]:
        assert set(p) >= {"partition", "leader", "leader_epoch", "replicas", "isr"}
        assert sorted(p["replicas"]) == [1, 2, 3] and p["leader"] in p["isr"]
    # Preferred leaders are spread: each broker leads two of the six.
    assert sorted(p["replicas"][0] for p in d["partitions"]) == [1, 1, 2, 2, 3, 3]

    before = await wait_for(lambda: _agreed(client, cluster), timeout_s=15, what="nodes agree")
    bad = [
        (("topics", "create", "orders", "--partitions", "1", "--replication-factor", "1"), "TOPIC_ALREADY_EXISTS"),
        (("topics", "create", "x", "--partitions", "1", "--replication-factor", "4"), "INVALID_REPLICATION_FACTOR"),
        (("topics", "create", "y", "--partitions", "0", "--replication-factor", "1"), "INVALID_PARTITIONS"),
        (("topics", "create", "bad/name", "--partitions", "1", "--replication-factor", "1"),
         "INVALID_TOPIC_EXCEPTION"),
        (("topics", "create", "z", "--partitions", "1", "--replication-factor", "1", "--config", "bogus=1"),
         "INVALID_CONFIG"),
        (("topics", "describe", "missing"), "UNKNOWN_TOPIC_OR_PARTITION"),
        (("topics", "delete", "missing"), "UNKNOWN_TOPIC_OR_PARTITION"),
        (("topics", "alter", "orders", "--partitions", "3"), "INVALID_PARTITIONS"),
    ]
    results = []

    async def run_bad(k, args, code):
        address = cluster.kafka_address(cluster.ids[k % 3])
        results.append((code, await cli(*args, "--bootstrap", address, "--json")))

    async with trio.open_nursery() as n:
        for k, (args, code) in enumerate(bad):
            n.start_soon(run_bad, k, args, code)
    for code, (rc, out, err) in results:
        assert rc != 0
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert json.loads(lines[0])["error"] == code
    after = await _agreed(client, cluster)
    assert after is not None and {d for _, d in after.values()} == {d for _, d in before.values()}
    rc, out, err = await cli("topics", "list", "--json", "--consistent", "--bootstrap", b)
    assert json.loads(out) == ["logs", "orders"]

    rc, out, err = await cli("topics", "alter", "orders", "--partitions", "8", "--config", "retention.ms=2000",
                             "--bootstrap", cluster.kafka_address(2))
    assert rc == 0, err
    rc, out, err = await cli("brokers", "list", "--json", "--bootstrap", b)
    rows = json.loads(out)
    assert [r["node_id"] for r in rows] == [1, 2, 3]
    assert all(set(r) >= {"node_id", "host", "port", "rack", "fenced"} and r["fenced"] is False for r in rows)

    # Stop and restart the whole quorum: the metadata log keeps everything.
    for i in cluster.ids:
        assert await cluster.stop(i) == 0
    await start_and_wait(cluster, client)
    d = json.loads((await cli("topics", "describe", "orders", "--consistent", "--json", "--bootstrap", b))[1])
    assert len(d["partitions"]) == 8 and d["configs"] == {"retention.ms": "2000"}
    assert await client.list_topics(consistent=True) == ["logs", "orders"]
    await wait_for(lambda: _agreed(client, cluster), timeout_s=15, what="nodes agree after restart")

    rc, out, err = await cli("topics", "delete", "logs", "--bootstrap", b)
    assert rc == 0, err
    assert await client.list_topics(consistent=True) == ["orders"]


async def _agreed(client, cluster):
    """Every node's (offset, digest) when all are equal, else None."""
    st = await statuses(client, cluster)
    return st if len(set(st.values())) == 1 else None


async def test_killed_broker_is_fenced_and_returns(cluster_factory):
    """Goal: kill -9 of a broker (not the controller): within its session
    timeout it leads nothing, the epochs of its partitions went up and no
    ISR holds it; restarted, it is unfenced and gets its preferred
    leaderships back. A broker stopped with SIGTERM instead has moved its
    leaderships away before it exits (controlled shutdown). `brokers list`
    (Kafka's DescribeCluster v2 plus the controller's peer listener) shows
    the fenced broker with its stale heartbeat."""
    cluster = await cluster_factory(3, broker=BROKER_TIMING, kafka=True)
    client = cluster.admin()
    await start_and_wait(cluster, client)
    r = await client.create_topic("f", 6, 3)
    assert r.error_code == 0, r.error_message
    leader = (await cluster.wait_leader())["node_id"]
    victim = next(i for i in cluster.ids if i != leader)
    d = await client.describe_topic("f", consistent=True)
    led = {p.partition: p.leader_epoch for p in d.partitions if p.leader == victim}
    assert led

    await cluster.kill(victim)
    survivors = cluster.admin(",".join(cluster.peer_address(i) for i in cluster.ids if i != victim))

    async def moved():
        d = await survivors.describe_topic("f", consistent=True)
        return all(p.leader != victim and victim not in p.isr for p in d.partitions) and d

    d = await wait_for(moved, timeout_s=SESSION_TIMEOUT_MS / 1000 + 3, what=f"node {victim} fenced")
    for p in d.partitions:
        if p.partition in led:
            assert p.leader is not None and p.leader_epoch > led[p.partition]
    brokers = {b.node_id: b for b in await survivors.list_brokers(consistent=True)}
    assert brokers[victim].fenced
    rc, out, err = await cli("brokers", "list", "--json", "--consistent", "--bootstrap",
                             ",".join(cluster.kafka_address(i) for i in cluster.ids if i != victim))
    assert rc == 0, err
    rows = {r["node_id"]: r for r in json.loads(out)}
    assert sorted(rows) == [1, 2, 3] and rows[victim]["fenced"] is True
    assert rows[victim]["port"] == cluster.kafka_ports[victim]
    assert rows[victim]["broker_epoch"] == brokers[victim].broker_epoch
    assert rows[leader]["fenced"] is False and isinstance(rows[leader]["last_heartbeat_ms"], int)

    cluster.start(victim)
    await wait_for(lambda: brokers_unfenced(client, cluster.ids), timeout_s=30, what="victim unfenced")

    async def preferred():
        d = await client.describe_topic("f", consistent=True)
        return all(p.leader == p.replicas[0] and len(p.isr) == 3 for p in d.partitions)

    await wait_for(preferred, timeout_s=30, what="preferred leaders restored")

    # Controlled shutdown: by the time the process has exited, nothing is
    # led by it any more (no session timeout involved).
    d = await client.describe_topic("f", consistent=True)
    led = {p.partition: p.leader_epoch for p in d.partitions if p.leader == victim}
    assert led
    assert await cluster.stop(victim) == 0
    d = await survivors.describe_topic("f", consistent=True)
    assert all(p.leader != victim for p in d.partitions)
    assert all(p.leader_epoch > led[p.partition] for p in d.partitions if p.partition in led)
    brokers = {b.node_id: b for b in await survivors.list_brokers(consistent=True)}
    assert brokers[victim].fenced and brokers[victim].in_controlled_shutdown
