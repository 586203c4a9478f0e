"""Goal: `rafka produce` then `rafka consume --from-beginning --max-messages
N --json` round-trip through the Kafka listener of a real three-node
cluster: every line comes back once, as a record with its key, in its
partition's offset order; a topic created with write.caching=true serves
the same; producing to a missing topic fails with one line and exit 1."""

from __future__ import annotations

import json
import subprocess

import pytest

from rafka.broker.testing.local_cluster import LocalCluster
from tests.integration.conftest import rafka_cmd, subprocess_env

pytestmark = pytest.mark.integration

CLI_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = LocalCluster(tmp_path_factory.mktemp("cli-data"), 3)
    try:
        c.start()
        yield c
    finally:
        c.close()


def cli(cluster, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(rafka_cmd(*args, "--bootstrap", cluster.bootstrap_servers), input=stdin,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=subprocess_env())


@pytest.mark.parametrize("configs", [(), ("--config", "write.caching=true")])
def test_produce_then_consume_json(cluster, configs):
    topic = "cli-wc" if configs else "cli"
    n = 200
    r = cli(cluster, "topics", "create", topic, "--partitions", "3", "--replication-factor", "3", *configs)
    assert r.returncode == 0, r.stderr
    lines = "".join(f"key{i % 7}|value-{i}\n" for i in range(n))
    r = cli(cluster, "produce", topic, "--key-separator", "|", "--json", stdin=lines)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"topic": topic, "records": n, "failed": 0}
    r = cli(cluster, "consume", topic, "--from-beginning", "--max-messages", str(n), "--json")
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(records) == n
    assert sorted(int(rec["value"].split("-")[1]) for rec in records) == list(range(n))
    by_key: dict[str, int] = {}
    per_partition: dict[int, list] = {}
    for rec in records:
        i = int(rec["value"].split("-")[1])
        assert rec["topic"] == topic and rec["key"] == f"key{i % 7}" and rec["headers"] == []
        assert by_key.setdefault(rec["key"], rec["partition"]) == rec["partition"]
        per_partition.setdefault(rec["partition"], []).append((rec["offset"], i))
    for got in per_partition.values():
        offsets = [o for o, _ in got]
        assert offsets == list(range(len(got)))  # from 0, dense, in order
        assert [i for _, i in got] == sorted(i for _, i in got)  # stdin order kept per partition
    if configs:
        r = cli(cluster, "topics", "describe", topic, "--json")
        assert r.returncode == 0 and "write.caching" in r.stdout, r.stdout


def test_produce_to_missing_topic_fails_with_one_line(cluster):
    r = cli(cluster, "produce", "no-such-topic", "--timeout-s", "5", stdin="x\n")
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "UNKNOWN_TOPIC" in r.stderr, r.stderr
