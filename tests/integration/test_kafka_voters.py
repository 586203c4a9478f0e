"""Goal: the metadata quorum is observed and changed over the Kafka
protocol: `rafka quorum status` (DescribeQuorum, asked of the leader)
lists a broker-only node as a caught-up observer, `quorum add-voter`
(AddRaftVoter, sent to the observer itself and forwarded to the leader)
promotes it, a refusal is one line, and `quorum remove-voter`
(RemoveRaftVoter) removes another voter."""

from __future__ import annotations

import json

import pytest
import trio

from tests.integration.conftest import rafka_cmd, subprocess_env, wait_for

pytestmark = pytest.mark.integration

CLI_TIMEOUT_S = 60
OBSERVER = 4


async def cli(*args: str) -> tuple[int, str, str]:
    with trio.fail_after(CLI_TIMEOUT_S):
        proc = await trio.run_process(rafka_cmd(*args), capture_stdout=True, capture_stderr=True,
                                      check=False, env=subprocess_env())
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


async def test_voter_changes_over_kafka(cluster_factory):
    cluster = await cluster_factory(3, observers=1, kafka=True)
    b = cluster.kafka_bootstrap
    cluster.start_all()
    await cluster.wait_leader(among=[1, 2, 3], timeout_s=30)

    async def observer_caught_up():
        rc, out, err = await cli("quorum", "status", "--json", "--bootstrap", b)
        assert rc == 0, err
        st = json.loads(out)
        obs = {o["node_id"]: o for o in st["observers"]}
        return st if OBSERVER in obs and obs[OBSERVER]["lag"] == 0 else None

    st = await wait_for(observer_caught_up, timeout_s=30, what="node 4 a caught-up observer")
    assert sorted(v["node_id"] for v in st["voters"]) == [1, 2, 3]

    rc, _, err = await cli("quorum", "add-voter", "--node-id", "9", "--bootstrap", b)
    assert rc != 0 and "not an observer" in err and len(err.strip().splitlines()) == 1, err

    async def promoted():
        rc, out, err = await cli("quorum", "add-voter", "--node-id", str(OBSERVER), "--json",
                                 "--bootstrap", cluster.kafka_address(OBSERVER))
        if rc != 0:
            assert "not caught up" in err or "in progress" in err, err  # retry only these
            return None
        return json.loads(out)

    change = await wait_for(promoted, timeout_s=30, what="node 4 promoted over AddRaftVoter")
    assert sorted(change["voters"]) == [1, 2, 3, 4] and OBSERVER not in change["observers"]

    rc, out, err = await cli("quorum", "status", "--json", "--bootstrap", b)
    leader_id = json.loads(out)["leader_id"]
    victim = next(i for i in (1, 2, 3) if i != leader_id)
    rc, out, err = await cli("quorum", "remove-voter", "--node-id", str(victim), "--json", "--bootstrap", b)
    assert rc == 0, err
    assert sorted(json.loads(out)["voters"]) == sorted({1, 2, 3, 4} - {victim})
