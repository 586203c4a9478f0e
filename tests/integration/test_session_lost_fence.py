"""kill -9 of a broker on a real three-node cluster: the controller sees its
peer connections closed and fences it after `session_lost_grace_ms`, long
before the session timeout (set to 10 minutes here, so only the
lost-connection path can move the leaderships within the test's deadline).
Both a broker and the active controller's own node are killed."""

from __future__ import annotations

import pytest

from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

BROKER_TIMING = {"session_timeout_ms": 600_000, "heartbeat_interval_ms": 300, "session_lost_grace_ms": 1000}
MOVE_DEADLINE_S = 60  # far below the session timeout: only a lost connection can fence in time


async def moved_off(client, victim: int):
    d = await client.describe_topic("f", consistent=True)
    ok = all(p.leader is not None and p.leader != victim and victim not in p.isr for p in d.partitions)
    return ok and d


async def kill_and_see_leaderships_move(cluster, client, victim: int) -> None:
    d = await client.describe_topic("f", consistent=True)
    led = {p.partition: p.leader_epoch for p in d.partitions if p.leader == victim}
    assert led, f"node {victim} leads nothing"
    await cluster.kill(victim)
    survivors = cluster.admin(",".join(cluster.peer_address(i) for i in cluster.ids if i != victim))
    d = await wait_for(lambda: moved_off(survivors, victim), timeout_s=MOVE_DEADLINE_S,
                       what=f"node {victim}'s leaderships moved (session lost)")
    for p in d.partitions:
        if p.partition in led:
            assert p.leader_epoch > led[p.partition]
    brokers = {b.node_id: b for b in await survivors.list_brokers(consistent=True)}
    assert brokers[victim].fenced
    leader = (await cluster.wait_leader(exclude=(victim,)))["node_id"]
    assert "session lost: its peer connections closed" in read_log(cluster, leader)
    # The restarted broker (a new incarnation) is unfenced again.
    cluster.start(victim)

    async def back():
        brokers = {b.node_id: b for b in await client.list_brokers(consistent=True)}
        return all(i in brokers and not brokers[i].fenced for i in cluster.ids)

    await wait_for(back, timeout_s=60, what=f"node {victim} unfenced after its restart")


def read_log(cluster, i: int) -> str:
    return (cluster.node_dir(i) / "node.out").read_text(errors="replace")


async def start(cluster_factory):
    cluster = await cluster_factory(3, broker=BROKER_TIMING)
    client = cluster.admin()
    cluster.start_all()
    await cluster.wait_leader(timeout_s=30)

    async def unfenced():
        brokers = {b.node_id: b for b in await client.list_brokers(consistent=True)}
        return all(i in brokers and not brokers[i].fenced for i in cluster.ids)

    await wait_for(unfenced, timeout_s=30, what="every broker registered and unfenced")
    r = await client.create_topic("f", 6, 3)
    assert r.error_code == 0, r.error_message
    return cluster, client


async def test_killed_broker_is_fenced_by_its_lost_connections(cluster_factory):
    """Goal: kill -9 of a broker that is not the controller: its partitions
    get new leaders (epochs up, it leaves every ISR) and it is fenced, with
    the lost session as the logged reason, although its session timeout is
    ten minutes; restarted, it is unfenced."""
    cluster, client = await start(cluster_factory)
    leader = (await cluster.wait_leader())["node_id"]
    victim = next(i for i in cluster.ids if i != leader)
    await kill_and_see_leaderships_move(cluster, client, victim)


async def test_killed_controller_node_is_fenced_by_the_next_controller(cluster_factory):
    """Goal: kill -9 of the active controller's node (a broker too): the
    next controller knows its connections are gone and fences it after the
    grace, not after the session timeout."""
    cluster, client = await start(cluster_factory)
    victim = (await cluster.wait_leader())["node_id"]
    await kill_and_see_leaderships_move(cluster, client, victim)
