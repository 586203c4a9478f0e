"""A broker takes no partition role from its metadata image until that
image has caught up with the quorum (Kafka's initial catch-up): a restarted
broker's image can name it leader of a partition that has moved on."""

from __future__ import annotations

import pytest
import trio

from rafka.broker.replica.hw_checkpoint import CHECKPOINT_NAME
from rafka.broker.replica.manager import ReplicaManager
from rafka.broker.replica.settings import ReplicaConfig
from rafka.netproto.errors import ErrorCode, RafkaError
from tests.unit.test_replica_manager import Meta, batch, cluster, wait_until


async def test_no_role_before_the_metadata_caught_up(tmp_path, nursery):
    """Goal: while the catch-up gate is closed the broker hosts nothing
    (NOT_LEADER_OR_FOLLOWER, no partition directory, no HW checkpoint
    rewritten) although its image names it leader; once it opens the broker
    leads and takes writes."""
    meta = Meta()
    cluster(meta)  # t-0 led by node 1
    caught_up = trio.Event()
    rm = ReplicaManager(1, [tmp_path / "n1"], meta.sm, ReplicaConfig(hw_checkpoint_interval_ms=10),
                        catch_up=caught_up.wait)
    await nursery.start(rm.run)
    await trio.sleep(0.2)  # wait-ok: several HW checkpoint intervals pass with the gate closed
    with pytest.raises(RafkaError) as err:
        rm.partition("t", 0)
    assert err.value.code == ErrorCode.NOT_LEADER_OR_FOLLOWER
    assert not (tmp_path / "n1" / "t-0").exists()
    assert not (tmp_path / "n1" / CHECKPOINT_NAME).exists()
    assert not rm.roles_followed
    caught_up.set()
    await wait_until(lambda: rm.roles_followed and "t-0" in {f"{p.topic}-{p.index}" for p in rm.partitions.values()},
                     "the role applied")
    assert (await rm.append("t", 0, batch(2), acks=1, timeout_s=1)).base_offset == 0
    await wait_until(lambda: (tmp_path / "n1" / CHECKPOINT_NAME).exists(), "HW checkpoints written")
