"""Metadata-quorum membership on real processes: a broker-only node follows
the metadata log as an observer (learner), registers as a broker, is
promoted to voter from the CLI, and a static voter is removed, with the
cluster still committing afterwards."""

from __future__ import annotations

import json

import pytest
import trio

from tests.integration.conftest import rafka_cmd, subprocess_env, wait_for

pytestmark = pytest.mark.integration

CLI_TIMEOUT_S = 60
BROKER_TIMING = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 300}
OBSERVER = 4


async def cli(*args: str) -> tuple[int, str, str]:
    with trio.fail_after(CLI_TIMEOUT_S):
        proc = await trio.run_process(rafka_cmd(*args), capture_stdout=True, capture_stderr=True,
                                      check=False, env=subprocess_env())
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


async def quorum_status(bootstrap: str) -> dict:
    rc, out, err = await cli("quorum", "status", "--json", "--bootstrap", bootstrap)
    assert rc == 0, err
    return json.loads(out)


async def test_observer_joins_is_promoted_and_a_voter_is_removed(cluster_factory):
    """Goal: a broker-only node (not in any voters table) catches up on the
    metadata log as an observer, shows in quorum status, registers and is
    unfenced, sees new topics in its own image; `quorum add-voter` promotes
    it (and refuses a non-observer), `quorum remove-voter` removes another
    voter (and refuses an unknown one), and the new quorum still commits."""
    cluster = await cluster_factory(3, observers=1, broker=BROKER_TIMING, kafka=True)
    b = cluster.kafka_bootstrap
    client = cluster.admin()
    cluster.start_all()
    await cluster.wait_leader(among=[1, 2, 3], timeout_s=30)

    async def observer_listed():
        st = await quorum_status(b)
        obs = {o["node_id"]: o for o in st["observers"]}
        return st if OBSERVER in obs and obs[OBSERVER]["lag"] == 0 and obs[OBSERVER]["last_contact_ms"] is not None \
            else None

    st = await wait_for(observer_listed, timeout_s=30, what="node 4 listed as a caught-up observer")
    assert OBSERVER not in [v["node_id"] for v in st["voters"]]
    assert sorted(v["node_id"] for v in st["voters"]) == [1, 2, 3]

    async def brokers_unfenced():
        brokers = {x.node_id: x for x in await client.list_brokers(consistent=True)}
        return all(i in brokers and not brokers[i].fenced for i in cluster.ids)

    await wait_for(brokers_unfenced, timeout_s=30, what="every broker (observer too) registered and unfenced")
    rc, out, err = await cli("brokers", "list", "--json", "--bootstrap", b)
    assert rc == 0, err
    row = {r["node_id"]: r for r in json.loads(out)}[OBSERVER]
    assert row["port"] == cluster.kafka_ports[OBSERVER] and row["fenced"] is False

    rc, _, err = await cli("topics", "create", "seen-by-observer", "--partitions", "2",
                           "--replication-factor", "3", "--bootstrap", b)
    assert rc == 0, err

    async def observer_image_current():
        leader = await cluster.wait_leader(among=[1, 2, 3], timeout_s=10)
        lead = await client.metadata_status(cluster.peer_address(leader["node_id"]))
        mine = await client.metadata_status(cluster.peer_address(OBSERVER))
        return mine.metadata_offset == lead.metadata_offset and mine.digest == lead.digest and mine.topics >= 1

    await wait_for(observer_image_current, timeout_s=30, what="the observer's image equal to the leader's")
    observer_only = cluster.admin(cluster.peer_address(OBSERVER))
    d = await observer_only.describe_topic("seen-by-observer")
    assert len(d.partitions) == 2

    # Refusals are one line, non-zero, and change nothing.
    rc, _, err = await cli("quorum", "add-voter", "--node-id", "9", "--bootstrap", b)
    assert rc != 0 and "not an observer" in err and len(err.strip().splitlines()) == 1, err
    rc, _, err = await cli("quorum", "remove-voter", "--node-id", "9", "--bootstrap", b)
    assert rc != 0 and "not a voter" in err, err

    # Promote the observer (through the observer's own Kafka listener: forwarded to the leader).
    async def promoted():
        rc, out, err = await cli("quorum", "add-voter", "--node-id", str(OBSERVER), "--json",
                                 "--bootstrap", cluster.kafka_address(OBSERVER))
        if rc != 0:
            assert "not caught up" in err or "in progress" in err, err  # retry only these
            return None
        return json.loads(out)

    change = await wait_for(promoted, timeout_s=30, what="node 4 promoted to voter")
    assert sorted(change["voters"]) == [1, 2, 3, 4] and OBSERVER not in change["observers"]

    # Remove a voter that is neither the observer nor (to keep it simple) the leader.
    leader_id = (await quorum_status(b))["leader_id"]
    victim = next(i for i in (1, 2, 3) if i != leader_id)
    rc, out, err = await cli("quorum", "remove-voter", "--node-id", str(victim), "--json", "--bootstrap", b)
    assert rc == 0, err
    assert sorted(json.loads(out)["voters"]) == sorted({1, 2, 3, 4} - {victim})

    st = await quorum_status(b)
    assert sorted(v["node_id"] for v in st["voters"]) == sorted({1, 2, 3, 4} - {victim})
    # The new quorum {leader, other, 4} still commits with the removed voter
    # and the other old voter stopped: only with node 4 counted is there a majority.
    other = next(i for i in (1, 2, 3) if i not in (leader_id, victim))
    await cluster.stop(victim)
    await cluster.stop(other)
    rc, _, err = await cli("topics", "create", "after-change", "--partitions", "1",
                           "--replication-factor", "1", "--bootstrap", b)
    assert rc == 0, err
    assert "after-change" in await client.list_topics(consistent=True)
