"""Goal: a restarted partition leader whose metadata cannot catch up with
the quorum serves nothing from its stale image, and once the quorum is back
the partition's HW is the one it had before the stop (clean stop and
kill -9): nothing acknowledged or consumed goes backwards.

How: the leader's two followers are frozen (SIGSTOP) before the leader
stops, then killed, and only the leader starts again. Its image still names
it leader with all three replicas in the ISR, but with no quorum its broker
is never acknowledged as caught up, so it must not act on that image (it
answered reads and OffsetForLeaderEpoch from it before, and a consumer
re-read a committed offset because of such an answer in a jepsen run).
Then the followers start again. That a restarted leader starts from its
replication-offset-checkpoint, before any follower fetched, is shown at
the replica manager's level (tests/unit/test_replica_hw_checkpoint.py).
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
NOT_LEADER_OR_FOLLOWER = 6
UNKNOWN_TOPIC_OR_PARTITION = 3
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
def test_restarted_leader_without_quorum_takes_no_stale_role(tmp_path, stop):
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
        # its first answer: no quorum, so its image may be stale (or not even
        # hold the topic yet after a kill -9): no role taken from it
        code, _ = wait_for(lambda: latest_offset(c.kafka_address(leader), "hw"),
                           "the restarted leader to answer ListOffsets")
        assert code in (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION)
        for i in followers:
            c.start_node(i)
        wait_for(lambda: latest_offset(c.kafka_address(leader_of(c.bootstrap_servers, "hw")), "hw")
                 == (0, RECORDS), "the partition's leader to serve the old HW once the quorum is back")
    finally:
        c.close()


def _log_dir(c: LocalCluster, i: int):
    """The node's (single) partition log dir: the one holding the topic's directory."""
    found = [p.parent for p in c.node_dir(i).rglob("hw-0") if p.is_dir()]
    assert len(found) == 1, found
    return found[0]
