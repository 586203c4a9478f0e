"""Goal: a restarted partition leader whose metadata cannot catch up with
the quorum serves nothing from its stale image, and once the quorum is back
the partition's HW is the one it had before the stop (clean stop and
kill -9): nothing acknowledged or consumed goes backwards.

How: the leader's two followers are frozen (SIGSTOP) before the leader
stops, then killed, and only the leader starts again. Its image still names
it leader with all three replicas in the ISR, but with no quorum its broker
is never acknowledged as caught up, so it must neither act on that image
nor answer a client from it (it answered reads and OffsetForLeaderEpoch
from it before, and a consumer re-read a committed offset because of such
an answer in a jepsen run). A ListOffsets sent then is answered only after
the followers start again, and truthfully. That a restarted leader starts from its
replication-offset-checkpoint, before any follower fetched, is shown at
the replica manager's level (tests/unit/test_replica_hw_checkpoint.py).
"""

from __future__ import annotations

import signal
import time

import pytest
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.list_offsets.v7.request import ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic

from rafka.broker.replica.hw_checkpoint import read_checkpoint
from rafka.broker.testing.local_cluster import LocalCluster
from tests.integration import data_clients as dc
from tests.integration.raw_kafka import RawKafka

pytestmark = pytest.mark.integration

RECORDS = 50
NOT_LEADER_OR_FOLLOWER = 6
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


def list_offsets_request(topic: str) -> ListOffsetsRequest:
    """ListOffsets latest of partition 0: the HW a consumer sees."""
    return ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=(
        ListOffsetsTopic(name=topic, partitions=(ListOffsetsPartition(partition_index=0, timestamp=-1),)),))


def latest_offset(address: str, topic: str) -> tuple[int, int]:
    """(error code, offset) of ListOffsets latest."""
    with RawKafka(address, timeout_s=5) as raw:
        resp = raw.call(list_offsets_request(topic))
    p = resp.topics[0].partitions[0]
    return int(p.error_code), int(p.offset)


def api_versions_answer(address: str) -> bool:
    """The listener answers ApiVersions (served before the metadata caught up)."""
    with RawKafka(address, timeout_s=5) as raw:
        return raw.call(ApiVersionsRequest(client_software_name="t", client_software_version="1")).error_code == 0


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
        wait_for(lambda: api_versions_answer(c.kafka_address(leader)), "the restarted leader's Kafka listener")
        # Ask it for the HW now, with no quorum: its image may be stale (or
        # not even hold the topic after a kill -9), so it must not answer
        # until it has caught up, which takes the followers back.
        with RawKafka(c.kafka_address(leader), timeout_s=DEADLINE_S) as raw:
            cid = raw.send(list_offsets_request("hw"))
            for i in followers:
                c.start_node(i)
            got, resp = raw.receive(2, 7)
        assert got == cid
        first = (int(resp.topics[0].partitions[0].error_code), int(resp.topics[0].partitions[0].offset))
        now_leader = wait_for(lambda: (n := leader_of(c.bootstrap_servers, "hw")) in c.ids and n,
                              "the partition to have a leader again")
        # its first answer is the truth of the caught-up image: still the
        # leader with the old HW, or not the leader if leadership moved
        assert first == ((0, RECORDS) if now_leader == leader else (NOT_LEADER_OR_FOLLOWER, -1))
        wait_for(lambda: latest_offset(c.kafka_address(now_leader), "hw") == (0, RECORDS),
                 "the partition's leader to serve the old HW once the quorum is back")
    finally:
        c.close()


def _log_dir(c: LocalCluster, i: int):
    """The node's (single) partition log dir: the one holding the topic's directory."""
    found = [p.parent for p in c.node_dir(i).rglob("hw-0") if p.is_dir()]
    assert len(found) == 1, found
    return found[0]
