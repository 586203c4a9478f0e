"""Goal: `rafka groups list|describe|delete|reset-offsets` on a real
three-node cluster, through confluent-kafka's AdminClient, against a group
with a live confluent-kafka member: describe shows the coordinator, state,
the member and its assignment and, per partition, the committed offset, the
log end and the lag exactly; resetting or deleting an active group is
refused (the CLI's check and the coordinator's own UNKNOWN_MEMBER_ID for an
admin commit); once the member leaves, each reset mode lands exactly where
it says, and delete removes the group and its offsets."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from rafka.broker.testing.local_cluster import LocalCluster
from tests.integration.conftest import rafka_cmd, subprocess_env

pytestmark = pytest.mark.integration

CLI_TIMEOUT_S = 90
WAIT_S = 60
TOPIC = "gtopic"
GROUP = "g-cli"
PARTITIONS = 3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = LocalCluster(tmp_path_factory.mktemp("groups-cli"), 3)
    try:
        c.start()
        yield c
    finally:
        c.close()


def cli(cluster, *args) -> subprocess.CompletedProcess:
    return subprocess.run(rafka_cmd(*args, "--bootstrap", cluster.bootstrap_servers), capture_output=True,
                          text=True, timeout=CLI_TIMEOUT_S, env=subprocess_env())


def cli_json(cluster, *args):
    r = cli(cluster, *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def one_line_error(r, code: str) -> None:
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {code}:"), r.stderr


def produce(cluster, n: int, start: int) -> dict[int, int]:
    """n keyed acks=all records; returns records per partition."""
    p = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all", "linger.ms": 5})
    counts: dict[int, int] = {}

    def done(err, msg):
        assert err is None, err
        counts[msg.partition()] = counts.get(msg.partition(), 0) + 1

    for i in range(start, start + n):
        p.produce(TOPIC, key=f"k{i}".encode(), value=f"v{i}".encode(), on_delivery=done)
    assert p.flush(WAIT_S) == 0
    return counts


def by_partition(d: dict) -> dict[int, tuple]:
    return {p["partition"]: (p["committed_offset"], p["log_end_offset"], p["lag"])
            for p in d["partitions"] if p["topic"] == TOPIC}


def test_groups_commands(cluster):
    r = cli(cluster, "topics", "create", TOPIC, "--partitions", str(PARTITIONS), "--replication-factor", "3")
    assert r.returncode == 0, r.stderr
    first = produce(cluster, 60, 0)
    assert sum(first.values()) == 60 and len(first) == PARTITIONS

    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": GROUP,
                         "client.id": "cli-test-member", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "session.timeout.ms": 30000})
    try:
        consumer.subscribe([TOPIC])
        seen = 0
        deadline = time.monotonic() + WAIT_S
        while seen < 60:
            assert time.monotonic() < deadline, f"consumed only {seen} of 60"
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                seen += 1
        consumer.commit(asynchronous=False)
        more = produce(cluster, 30, 60)

        groups = cli_json(cluster, "groups", "list")
        assert {"group": GROUP, "state": "STABLE", "simple": False} in groups

        d = cli_json(cluster, "groups", "describe", GROUP)
        assert d["group"] == GROUP and d["state"] == "STABLE" and d["coordinator"]["id"] in (1, 2, 3)
        assert len(d["members"]) == 1
        member = d["members"][0]
        assert member["client_id"] == "cli-test-member" and member["host"] == "/127.0.0.1"
        assert sorted((a["topic"], a["partition"]) for a in member["assignment"]) == \
            [(TOPIC, p) for p in range(PARTITIONS)]
        assert by_partition(d) == {p: (first[p], first[p] + more.get(p, 0), more.get(p, 0))
                                   for p in range(PARTITIONS)}
        assert all(p["member_id"] == member["member_id"] for p in d["partitions"])
        text = cli(cluster, "groups", "describe", GROUP)
        assert text.returncode == 0 and "STABLE" in text.stdout and "cli-test-member" in text.stdout

        # An active group: the CLI refuses, and so does the coordinator itself.
        one_line_error(cli(cluster, "groups", "reset-offsets", GROUP, "--topic", TOPIC, "--to-earliest"),
                       "UNKNOWN_MEMBER_ID")
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
        fut = admin.alter_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(GROUP, [TopicPartition(TOPIC, 0, 0)])])[GROUP]
        with pytest.raises(KafkaException) as info:
            res = fut.result(timeout=WAIT_S)
            for tp in res.topic_partitions:  # a per-partition error also counts as refused
                if tp.error is not None:
                    raise KafkaException(tp.error)
        assert info.value.args[0].name() == "UNKNOWN_MEMBER_ID"
        one_line_error(cli(cluster, "groups", "delete", GROUP), "NON_EMPTY_GROUP")
        assert by_partition(cli_json(cluster, "groups", "describe", GROUP))[0][0] == first[0]
    finally:
        consumer.close()  # LeaveGroup: the group becomes Empty

    d = cli_json(cluster, "groups", "describe", GROUP)
    assert d["state"] == "EMPTY" and d["members"] == []
    ends = {p: first[p] + more.get(p, 0) for p in range(PARTITIONS)}

    out = cli_json(cluster, "groups", "reset-offsets", GROUP, "--topic", TOPIC, "--to-earliest")
    assert sorted((o["partition"], o["offset"]) for o in out["offsets"]) == [(p, 0) for p in range(PARTITIONS)]
    assert by_partition(cli_json(cluster, "groups", "describe", GROUP)) == \
        {p: (0, ends[p], ends[p]) for p in range(PARTITIONS)}

    cli_json(cluster, "groups", "reset-offsets", GROUP, "--topic", TOPIC, "--to-offset", "5", "--partition", "1")
    got = by_partition(cli_json(cluster, "groups", "describe", GROUP))
    assert got[1] == (5, ends[1], ends[1] - 5) and got[0] == (0, ends[0], ends[0])

    cli_json(cluster, "groups", "reset-offsets", GROUP, "--topic", TOPIC, "--to-offset", "1000000")
    assert by_partition(cli_json(cluster, "groups", "describe", GROUP)) == \
        {p: (ends[p], ends[p], 0) for p in range(PARTITIONS)}  # clamped to the log end

    cli_json(cluster, "groups", "reset-offsets", GROUP, "--topic", TOPIC, "--to-earliest")
    cli_json(cluster, "groups", "reset-offsets", GROUP, "--topic", TOPIC, "--to-latest")
    assert by_partition(cli_json(cluster, "groups", "describe", GROUP)) == \
        {p: (ends[p], ends[p], 0) for p in range(PARTITIONS)}

    # A consumer of the reset group starts exactly at the reset offsets.
    cli_json(cluster, "groups", "reset-offsets", GROUP, "--topic", TOPIC, "--to-offset", "3", "--partition", "2")
    c2 = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": GROUP, "enable.auto.commit": False,
                   "auto.offset.reset": "earliest"})
    try:
        c2.subscribe([TOPIC])
        want = ends[2] - 3
        got_offsets = []
        deadline = time.monotonic() + WAIT_S
        while len(got_offsets) < want:
            assert time.monotonic() < deadline, f"read {got_offsets} of {want}"
            msg = c2.poll(0.5)
            if msg is not None and msg.error() is None:
                assert msg.partition() == 2, "partitions 0 and 1 were reset to their log end"
                got_offsets.append(msg.offset())
        assert got_offsets == list(range(3, ends[2]))
    finally:
        c2.close()

    one_line_error(cli(cluster, "groups", "reset-offsets", GROUP, "--topic", "no-such-topic", "--to-latest"),
                   "UNKNOWN_TOPIC_OR_PARTITION")

    r = cli(cluster, "groups", "delete", GROUP)
    assert r.returncode == 0, r.stderr
    one_line_error(cli(cluster, "groups", "describe", GROUP), "GROUP_ID_NOT_FOUND")
    assert GROUP not in [g["group"] for g in cli_json(cluster, "groups", "list")]
    one_line_error(cli(cluster, "groups", "delete", GROUP), "GROUP_ID_NOT_FOUND")
