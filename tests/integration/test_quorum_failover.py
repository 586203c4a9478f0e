"""Three real node processes: election, kill -9 of the leader, catch-up of
the restarted node, a full-cluster crash and restart, and a clean SIGTERM
handover. Committed entries are written with the benchmark-only BenchAppend
(nodes run with --bench) and checked through each node's status digest."""

from __future__ import annotations

import hashlib

import pytest

from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def chain_digest(entries: list[bytes]) -> str:
    """The digest the node's state machine reports: sha256 chained over the
    data of every applied NORMAL entry, in log order."""
    d = bytes(32)
    for e in entries:
        d = hashlib.sha256(d + e).digest()
    return d.hex()


async def append_all(cluster, leader_id: int, entries: list[bytes], batch: int = 5) -> int:
    """Write entries in order, batch by batch, each acknowledged before the next."""
    last = 0
    for k in range(0, len(entries), batch):
        reply = await cluster.append(leader_id, entries[k : k + batch])
        assert reply["last_index"] - reply["first_index"] + 1 == len(entries[k : k + batch])
        last = reply["last_index"]
    return last


async def wait_applied(cluster, ids, written: list[bytes], timeout_s: float = 30.0) -> dict:
    """Wait until every node in ids reports exactly `written` applied (count and digest)."""
    want = {"entries_applied": len(written), "digest": chain_digest(written)}  # JSON ints

    async def probe():
        sts = await cluster.statuses(ids)
        if set(sts) != set(ids):
            return None
        for st in sts.values():
            sm = st["state_machine"]
            if {k: sm.get(k) for k in want} != want:
                return None
        return sts

    return await wait_for(probe, timeout_s=timeout_s, what=f"nodes {ids} to apply {want}")


async def test_leader_kill_failover_catch_up_and_full_restart(cluster_factory):
    """Goal: committed entries survive a kill -9 of the leader, a restarted
    node catches up to the same log, and after every node is killed and
    restarted the cluster reports the same committed log (count + digest)."""
    cluster = await cluster_factory(3, bench=True)
    cluster.start_all()
    first = await cluster.wait_leader()
    leader = first["node_id"]

    written = [f"entry-{k}".encode() for k in range(20)]
    last_index = await append_all(cluster, leader, written)
    await wait_applied(cluster, cluster.ids, written)

    # kill -9 the leader: the others elect a new one in a higher term that
    # still has every acknowledged entry.
    await cluster.kill(leader)
    survivors = [i for i in cluster.ids if i != leader]
    second = await cluster.wait_leader(among=survivors)
    assert second["term"] > first["term"]
    assert second["commit_index"] >= last_index
    await wait_applied(cluster, survivors, written)

    more = [f"after-failover-{k}".encode() for k in range(10)]
    await append_all(cluster, second["node_id"], more)
    written += more

    # The old leader restarts and catches up to the same log.
    cluster.start(leader)
    await wait_applied(cluster, cluster.ids, written)

    # Crash everything, restart everything: the committed log is intact.
    before = await cluster.status(second["node_id"])
    for i in cluster.ids:
        await cluster.kill(i)
    cluster.start_all()
    third = await cluster.wait_leader()
    assert third["term"] > before["term"]
    sts = await wait_applied(cluster, cluster.ids, written)
    for st in sts.values():
        assert st["commit_index"] >= before["commit_index"]


async def test_sigterm_of_leader_hands_over_and_exits_zero(cluster_factory):
    """Goal: SIGTERM makes a leader transfer leadership before exiting 0, so
    the remaining nodes have a leader at once and committed entries stay."""
    cluster = await cluster_factory(3, bench=True)
    cluster.start_all()
    first = await cluster.wait_leader()
    leader = first["node_id"]
    written = [b"a", b"b", b"c"]
    await append_all(cluster, leader, written)
    assert await cluster.stop(leader) == 0
    survivors = [i for i in cluster.ids if i != leader]
    second = await cluster.wait_leader(among=survivors, timeout_s=10.0)
    assert second["node_id"] != leader
    await wait_applied(cluster, survivors, written)
    # A follower stops cleanly too.
    follower = next(i for i in survivors if i != second["node_id"])
    assert await cluster.stop(follower) == 0
