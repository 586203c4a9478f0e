"""A leader cut off from its peers (all its peer links go through cuttable
proxies) cannot commit, steps down by check-quorum, and the majority elects a
new leader; after healing, the old leader follows and catches up."""

from __future__ import annotations

import pytest

from rafka.broker.client.node_client import AdminError
from tests.integration.conftest import wait_for
from tests.integration.test_quorum_failover import append_all, wait_applied

pytestmark = pytest.mark.integration


async def test_isolated_leader_cannot_commit_and_steps_down(cluster_factory):
    """Goal: the isolated leader commits nothing new and stops being leader on
    its own (check-quorum), while the majority moves on in a higher term."""
    cluster = await cluster_factory(3, proxied=True, bench=True)
    cluster.start_all()
    first = await cluster.wait_leader()
    old = first["node_id"]
    written = [b"before-1", b"before-2"]
    await append_all(cluster, old, written)
    await wait_applied(cluster, cluster.ids, written)
    commit_before = (await cluster.status(old))["commit_index"]

    cluster.isolate(old)

    # A write to the isolated leader is never acknowledged.
    with pytest.raises(AdminError):
        await cluster.append(old, [b"lost"], timeout_s=2.0)

    async def stepped_down():
        st = await cluster.status(old)
        return st if st["role"] != "leader" else None

    st = await wait_for(stepped_down, timeout_s=15.0, what=f"node {old} to step down")
    assert st["commit_index"] == commit_before

    majority = [i for i in cluster.ids if i != old]
    second = await cluster.wait_leader(among=majority)
    assert second["term"] > first["term"]
    after = [b"after-1"]
    await append_all(cluster, second["node_id"], after)

    cluster.heal_all()
    # The un-acknowledged b"lost" never shows up anywhere: the old leader's
    # uncommitted tail is replaced by the majority's log.
    await wait_applied(cluster, cluster.ids, written + after)
