"""Goal: a restarted partition leader serves the high watermark it had
before it stopped (clean stop and kill -9), from its log dir's
replication-offset-checkpoint, before any follower fetched from it and
before any new produce.

How the test makes that observable: the leader's two followers are frozen
(SIGSTOP) before the leader stops, then killed, and only the leader starts
again. Its metadata image still names it leader with all three replicas in
the ISR, so its HW cannot move until the (dead) followers fetch: without the
checkpoint a consumer would see 0 there, with it the old HW.
"""

from __future__ import annotations

import signal
import time

import pytest
from kio.schema.list_offsets.v7.request import ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic

from rafka.broker.replica.hw_checkpoint import read_checkpoint
from rafka.broker.testing.local_cluster import LocalCluster
from tests.integration import data_clients as dc
from tests.integration.raw_kafka import RawKafka

pytestmark = pytest.mark.integration

RECORDS = 50
DEADLINE_S = 60.0
POLL_S = 0.05


def wait_for(probe, what: str, timeout_s: float = DEADLINE_S):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except OSError as exc:  # not listening yet
            last = repr(exc)
        else:
            if last is not None and last is not False:
                return last
        time.sleep(POLL_S)  # wait-ok: bounded by the deadline above
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last: {last!r}")


def latest_offset(address: str, topic: str) -> tuple[int, int]:
    """(error code, offset) of ListOffsets latest: the HW a consumer sees."""
    with RawKafka(address, timeout_s=5) as raw:
        resp = raw.call(ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=(
            ListOffsetsTopic(name=topic, partitions=(ListOffsetsPartition(partition_index=0, timestamp=-1),)),)))
    p = resp.topics[0].partitions[0]
    return int(p.error_code), int(p.offset)


def leader_of(bootstrap: str, topic: str) -> int:
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2}).list_topics(topic, timeout=10)
    return md.topics[topic].partitions[0].leader


@pytest.mark.parametrize("stop", ["clean", "kill"])
def test_restarted_leader_serves_its_checkpointed_hw(tmp_path, stop):
    # clean: an interval far longer than the test, so only the shutdown can write the file
    interval_ms = 3_600_000 if stop == "clean" else 100
    c = LocalCluster(tmp_path, 3, replica={"hw_checkpoint_interval_ms": interval_ms})
    try:
        c.start()
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": c.bootstrap_servers, "log_level": 3})
        admin.create_topics([NewTopic("hw", 1, 3)])["hw"].result(30)
        acked = dc.produce_confluent(c.bootstrap_servers, "hw", RECORDS)
        assert len(acked) == RECORDS
        leader = leader_of(c.bootstrap_servers, "hw")
        assert leader in c.ids
        # every replica has everything: the leader's HW is the log end
        wait_for(lambda: latest_offset(c.kafka_address(leader), "hw") == (0, RECORDS), "HW at the log end")
        if stop == "kill":
            wait_for(lambda: read_checkpoint(_log_dir(c, leader)).get(("hw", 0)) == RECORDS,
                     "the periodic checkpoint to reach the HW")
        followers = [i for i in c.ids if i != leader]
        for i in followers:
            c.procs[i].send_signal(signal.SIGSTOP)
        if stop == "clean":
            assert c.stop_node(leader) == 0
            assert read_checkpoint(_log_dir(c, leader)).get(("hw", 0)) == RECORDS
        else:
            c.kill_node(leader)
        for i in followers:
            c.kill_node(i)  # a stopped process dies of SIGKILL too
        c.start_node(leader)
        # the first answer the restarted leader gives a consumer
        code, hw = wait_for(lambda: (r := latest_offset(c.kafka_address(leader), "hw"))[0] == 0 and r,
                            "the restarted leader to answer ListOffsets")
        assert hw == RECORDS
    finally:
        c.close()


def _log_dir(c: LocalCluster, i: int):
    """The node's (single) partition log dir: the one holding the topic's directory."""
    found = [p.parent for p in c.node_dir(i).rglob("hw-0") if p.is_dir()]
    assert len(found) == 1, found
    return found[0]
