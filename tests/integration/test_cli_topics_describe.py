"""Goal: `rafka topics describe` on a real three-node cluster shows each
partition's log start offset, high watermark and log end offset (text
columns and `--json` per partition), asked over the Kafka protocol
(ListOffsets through confluent-kafka, OffsetForLeaderEpoch to the leader):
after acks=all produces from a real client the high watermark and log end
equal the records written per partition; retention moves the log start to
the first segment kept on the leader's disk; with both followers frozen
(SIGSTOP, still in the ISR) acks=1 records raise the log end but not the
high watermark."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from confluent_kafka import Producer

from rafka.broker.testing.local_cluster import LocalCluster
from rafka.log.segment_names import parse_segment_name
from tests.integration.conftest import rafka_cmd, subprocess_env

pytestmark = pytest.mark.integration

CLI_TIMEOUT_S = 90
WAIT_S = 60
VALUE = b"v" * 100


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # Retention checked often.
    c = LocalCluster(tmp_path_factory.mktemp("describe-cli"), 3, replica={"retention_check_interval_ms": 200})
    try:
        c.start()
        yield c
    finally:
        c.close()


def cli(bootstrap: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run(rafka_cmd(*args, "--bootstrap", bootstrap), capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, env=subprocess_env())


def describe(bootstrap: str, topic: str) -> dict:
    r = cli(bootstrap, "topics", "describe", topic, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def figures(d: dict) -> dict[int, tuple]:
    return {p["partition"]: (p["log_start_offset"], p["high_watermark"], p["log_end_offset"])
            for p in d["partitions"]}


def produce(bootstrap: str, topic: str, counts: dict[int, int], acks: str) -> None:
    """counts[p] records to partition p, one batch each (each delivery
    awaited before the next), acks as given."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 0})
    for partition, n in counts.items():
        for _ in range(n):
            delivered = []
            p.produce(topic, value=VALUE, partition=partition,
                      on_delivery=lambda err, msg: delivered.append(err))
            assert p.flush(WAIT_S) == 0 and delivered == [None], delivered


def wait_for(pred, what: str):
    deadline = time.monotonic() + WAIT_S
    while True:
        got = pred()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)  # wait-ok: polling a condition with a deadline


def create(cluster, topic: str, partitions: int, *configs: str) -> None:
    r = cli(cluster.bootstrap_servers, "topics", "create", topic, "--partitions", str(partitions),
            "--replication-factor", "3", *configs)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: all(p["leader"] is not None and len(p["isr"]) == 3
                         for p in describe(cluster.bootstrap_servers, topic)["partitions"]), f"{topic} in sync")


def first_segment_base(cluster, node: int, topic: str, partition: int) -> int:
    files = (cluster.node_dir(node) / "data" / f"{topic}-{partition}").iterdir()
    return min(b for b in (parse_segment_name(f.name) for f in files) if b is not None)


def test_describe_shows_log_start_high_watermark_and_log_end(cluster):
    topic = "desc"
    # segments of about six 170-byte batches; keep at least two segments' bytes
    create(cluster, topic, 3, "--config", "segment.bytes=1024", "--config", "retention.bytes=2048")
    counts = {0: 3, 1: 7, 2: 40}
    produce(cluster.bootstrap_servers, topic, counts, "all")

    d = wait_for(lambda: (lambda d: d if figures(d)[2][0] > 0 else None)(describe(cluster.bootstrap_servers, topic)),
                 "retention to move partition 2's log start")
    got = figures(d)
    assert got[0] == (0, 3, 3) and got[1] == (0, 7, 7)
    start, hw, end = got[2]
    assert (hw, end) == (40, 40) and 0 < start < 40
    leader = next(p["leader"] for p in d["partitions"] if p["partition"] == 2)
    assert start == first_segment_base(cluster, leader, topic, 2)

    r = cli(cluster.bootstrap_servers, "topics", "describe", topic)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.strip().startswith("Partition:")]
    assert len(rows) == 3
    assert "LogStart: 0  HighWatermark: 7  LogEnd: 7" in rows[1]
    assert f"LogStart: {start}  HighWatermark: 40  LogEnd: 40" in rows[2]


def test_log_end_passes_the_high_watermark_while_the_followers_are_frozen(cluster):
    """Both followers frozen (SIGSTOP): no controller majority can shrink
    the ISR, so acks=1 records raise the leader's log end but not its high
    watermark."""
    topic = "desc-lag"
    create(cluster, topic, 1)
    produce(cluster.bootstrap_servers, topic, {0: 5}, "all")
    (p0,) = describe(cluster.bootstrap_servers, topic)["partitions"]
    leader = p0["leader"]
    at_leader = cluster.kafka_address(leader)  # frozen nodes must not be asked
    frozen = [cluster.procs[n] for n in p0["replicas"] if n != leader]
    for proc in frozen:
        proc.send_signal(signal.SIGSTOP)
    try:
        produce(at_leader, topic, {0: 4}, "1")
        d = describe(at_leader, topic)
        assert figures(d) == {0: (0, 5, 9)}
        r = cli(at_leader, "topics", "describe", topic)
        assert r.returncode == 0, r.stderr
        assert "LogStart: 0  HighWatermark: 5  LogEnd: 9" in r.stdout
    finally:
        for proc in frozen:
            proc.send_signal(signal.SIGCONT)
    # Resumed, the controller may fence the lone leader and elect another,
    # which truncates the acks=1 records: only a healthy cluster is awaited.
    wait_for(lambda: len(describe(cluster.bootstrap_servers, topic)["partitions"][0]["isr"]) == 3,
             "the followers to rejoin the ISR")
