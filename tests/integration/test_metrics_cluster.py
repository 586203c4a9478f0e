"""Metrics on a running three-node cluster: the values move as data flows
and as a follower goes away and comes back."""

from __future__ import annotations

import time
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from rafka.broker.testing.local_cluster import LocalCluster

pytestmark = pytest.mark.integration

TOPIC = "metered"


def scrape(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def wait_until(probe, what: str, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)  # wait-ok: bounded by the deadline
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def test_metrics_move_with_data_and_replica_health(tmp_path):
    """Goal: after produces, the leader's metrics show the bytes in, the log
    end and HW of the partition, the Produce requests and the controller's
    events; a group's coordinator reports its committed offset and lag 0
    once it committed everything; stopping a
    follower raises the under-replicated count once the leader drops it from
    the ISR, and it returns to 0 after the follower is back."""
    cluster = LocalCluster(tmp_path, 3, replica={"lag_time_max_ms": 1500})
    try:
        cluster.start()
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
        admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=3)])[TOPIC].result(timeout=30)
        producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all"})
        for i in range(100):
            producer.produce(TOPIC, value=b"x" * 100, key=str(i).encode())
        assert producer.flush(30) == 0
        leader = admin.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions[0].leader
        part = (("partition", "0"), ("topic", TOPIC))

        def leader_shows_data():
            m = scrape(cluster.metrics_url(leader))
            done = m.get(("rafka_partition_high_watermark", part)) == 100
            return m if done else None

        m = wait_until(leader_shows_data, "the leader's HW at 100")
        assert m[("rafka_partition_log_end_offset", part)] == 100
        assert m[("rafka_topic_bytes_in_total", (("topic", TOPIC),))] > 100 * 100
        assert m[("rafka_kafka_requests_total", (("api", "produce"),))] >= 1
        assert m[("rafka_partition_isr_size", part)] == 3
        assert m[("rafka_raft_term", ())] >= 1
        assert m[("rafka_partitions_under_replicated", ())] == 0
        assert m[("rafka_controller_events_total", (("event", "TopicRecord"),))] >= 1

        # A group commits all 100: some node coordinates it and reports lag 0.
        consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "metered-group",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe([TOPIC])
        seen = 0
        deadline = time.monotonic() + 60
        while seen < 100 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                seen += 1
        assert seen == 100
        consumer.commit(asynchronous=False)
        consumer.close()
        gkey = (("group", "metered-group"), ("partition", "0"), ("topic", TOPIC))

        def coordinator_reports_lag():
            for i in cluster.ids:
                got = scrape(cluster.metrics_url(i))
                if got.get(("rafka_group_committed_offset", gkey)) == 100:
                    return got
            return None

        got = wait_until(coordinator_reports_lag, "a node reporting the group's committed offset")
        assert got[("rafka_group_lag", gkey)] == 0

        follower = next(i for i in cluster.ids if i != leader)
        cluster.stop_node(follower)
        # (the group created __consumer_offsets, whose partitions count too)
        wait_until(lambda: scrape(cluster.metrics_url(leader)).get(("rafka_partitions_under_replicated", ())) >= 1,
                   "under-replicated to rise")
        cluster.restart_node(follower)
        wait_until(lambda: scrape(cluster.metrics_url(leader)).get(("rafka_partitions_under_replicated", ())) == 0,
                   "under-replicated back to 0")
    finally:
        cluster.close()
