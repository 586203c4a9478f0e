"""The pytest plugin as a user's project meets it: pytester runs example
test modules in a fresh pytest process, with the plugin loaded only through
its `pytest11` entry point (installed with rafka)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

ADMIN_EXAMPLE = '''
import pytest
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer


def test_single_node_serves_kafka_clients(rafka_cluster, bootstrap_servers):
    assert bootstrap_servers == rafka_cluster.bootstrap_servers
    md = AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(timeout=10)
    assert sorted(md.brokers) == [1]
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers)
    try:
        assert isinstance(consumer.topics(), set)
    finally:
        consumer.close()


@pytest.mark.rafka(nodes=3)
def test_three_nodes_and_a_killed_broker(rafka_cluster, bootstrap_servers):
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    assert sorted(admin.list_topics(timeout=10).brokers) == [1, 2, 3]
    assert rafka_cluster.kill_node(3) == -9
    rafka_cluster.restart_node(3)
    assert sorted(admin.list_topics(timeout=10).brokers) == [1, 2, 3]
'''


def test_plugin_fixtures_start_clusters_and_survive_a_kill(pytester):
    """Goal: through the entry point alone, `rafka_cluster` starts a
    one-node and a three-node cluster that real Kafka clients (librdkafka
    and kafka-python) see, and a killed broker is restarted and rejoins."""
    pytester.makepyfile(test_example=ADMIN_EXAMPLE)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(passed=2)


def test_a_cluster_that_cannot_start_fails_with_its_log(pytester):
    """Goal: a node that cannot start fails the test at once with the node's
    last log lines, never a hang (its node.toml is made invalid)."""
    pytester.makeconftest('''
import pytest
from rafka.broker.testing import local_cluster

@pytest.fixture(autouse=True, scope="session")
def _broken(monkeypatch_session=None):
    original = local_cluster.LocalCluster._write_configs

    def broken(self):
        original(self)
        for i in self.ids:
            (self.node_dir(i) / "node.toml").write_text("node_id = 'not a number'\\n")

    local_cluster.LocalCluster._write_configs = broken
    yield
    local_cluster.LocalCluster._write_configs = original
''')
    pytester.makepyfile(test_broken="def test_needs_cluster(rafka_cluster):\n    pass\n")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*did not start: node 1 exited*", "*error: INVALID_CONFIG*"])
    result.stdout.no_fnmatch_line("*During handling*")
