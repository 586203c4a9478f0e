"""Replicated data partitions on a real 3-node cluster (issue 11, replica core).

The Kafka listener does not serve Produce/Fetch yet, so records are written
and read through a test-only peer path into each node's ReplicaManager
(broker/replica/test_api.py, enabled by RAFKA_REPLICA_TEST_API=1). Followers
replicate over the real peer listener (replica.FetchRequest /
OffsetForLeaderEpochRequest); ISR changes go through AlterPartition to the
active controller.
"""

from __future__ import annotations

import trio

from rafka.broker.replica.test_api import AppendForTestRequest, ReadForTestRequest
from rafka.log.records import Record, build_batch
from rafka.netproto.handshake import KIND_PEER
from rafka.netproto.pool import open_pool
from tests.integration.conftest import wait_for
from tests.integration.test_controller_cluster import start_and_wait

BROKER_TIMING = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 300}


def batch(i: int) -> bytes:
    return build_batch([Record(b"k%d" % i, b"value-%d" % i)], timestamp_ms=1000 + i)


async def test_kill_leader_acked_records_survive_and_restarted_broker_rejoins(cluster_factory, monkeypatch):
    """Goal: every acks=all record survives kill -9 of the partition leader; the restarted broker
    truncates/catches up, rejoins the ISR, and all logs are byte-identical below the HW."""
    monkeypatch.setenv("RAFKA_REPLICA_TEST_API", "1")
    cluster = await cluster_factory(3, broker=BROKER_TIMING)
    admin = cluster.admin()
    await start_and_wait(cluster, admin)
    res = await admin.create_topic("r", 1, 3)
    assert res.error_code == 0, res

    async with open_pool(cluster_id=cluster.cluster_id, kind=KIND_PEER, node_id=2**31 - 1) as pool:
        def peer(i):
            return f"127.0.0.1:{cluster.peer_ports[i]}"

        async def describe():
            return (await admin.describe_topic("r", consistent=True)).partitions[0]

        async def read(i):
            return await pool.call(peer(i), ReadForTestRequest("r", 0), 5)

        async def leader_ready():
            d = await describe()
            if d.leader is None or len(d.isr) != 3:
                return None
            r = await read(d.leader)
            return d if r.error_code == 0 and r.is_leader else None

        d = await wait_for(leader_ready, timeout_s=30, what="partition leader serving, isr of 3")
        leader = d.leader
        acked = []
        for i in range(20):
            resp = await pool.call(peer(leader), AppendForTestRequest("r", 0, batch(i), -1, 10_000), 15)
            assert resp.error_code == 0, resp
            acked.append((resp.base_offset, i))
        assert [o for o, _ in acked] == list(range(20))
        # a few acks=1 writes racing the kill may or may not survive; acked ones must
        for i in range(20, 25):
            await pool.call(peer(leader), AppendForTestRequest("r", 0, batch(i), 1, 10_000), 15)
        await cluster.kill(leader)

        async def new_leader():
            d = await describe()
            if d.leader in (None, leader):
                return None
            r = await read(d.leader)
            return (d, r) if r.error_code == 0 and r.is_leader else None

        d2, r2 = await wait_for(new_leader, timeout_s=30, what="a new partition leader")
        assert r2.log_end_offset >= 20
        # every acked record is in the new leader's log at its acked offset
        from rafka.broker.replica.produce_validation import iter_headers
        from rafka.log.records import decode_batch

        offsets = {}
        pos = 0
        for h in iter_headers(r2.records):
            _, recs = decode_batch(r2.records, pos)
            for rec in recs:
                offsets[rec.offset] = rec.value
            pos += h.size
        for off, i in acked:
            assert offsets.get(off) == b"value-%d" % i
        # the surviving ISR accepts acks=all writes
        resp = await pool.call(peer(d2.leader), AppendForTestRequest("r", 0, batch(99), -1, 10_000), 15)
        assert resp.error_code == 0, resp

        cluster.start(leader)

        async def rejoined():
            d = await describe()
            if len(d.isr) != 3:
                return None
            views = {i: await read(i) for i in cluster.ids}
            hw = views[d.leader].high_watermark
            if any(v.error_code or v.log_end_offset != views[d.leader].log_end_offset for v in views.values()):
                return None
            return d, views, hw

        d3, views, hw = await wait_for(rejoined, timeout_s=60, what="restarted broker back in the isr")
        assert leader in d3.isr
        logs = {i: v.records for i, v in views.items()}
        assert logs[1] == logs[2] == logs[3]
        assert hw >= resp.last_offset + 1
