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


DATA_EXAMPLE = '''
import pytest
from confluent_kafka import Consumer, Producer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def read_all(bootstrap, topic, partitions, want):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topic])
        got = []
        for _ in range(300):
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
            if len(got) >= want:
                break
        return got
    finally:
        consumer.close()


def test_confluent_kafka_round_trip(bootstrap_servers, rafka_topic):
    topic = rafka_topic(partitions=3)
    producer = Producer({"bootstrap.servers": bootstrap_servers})
    for i in range(50):
        producer.produce(topic, key=str(i).encode(), value=b"v%d" % i)
    assert producer.flush(30) == 0
    assert sorted(read_all(bootstrap_servers, topic, 3, 50)) == sorted(b"v%d" % i for i in range(50))


def test_kafka_python_round_trip(bootstrap_servers, rafka_topic):
    topic = rafka_topic(partitions=1)
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers)
    for i in range(20):
        producer.send(topic, value=b"k%d" % i)
    producer.flush(30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, consumer_timeout_ms=10000)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    got = []
    for msg in consumer:
        got.append(msg.value)
        if len(got) == 20:
            break
    consumer.close()
    assert got == [b"k%d" % i for i in range(20)]


@pytest.mark.rafka(nodes=3)
def test_acknowledged_writes_survive_a_killed_leader(rafka_cluster, bootstrap_servers, rafka_topic):
    topic = rafka_topic(partitions=1, replication_factor=3, config={"min.insync.replicas": "2"})
    producer = Producer({"bootstrap.servers": bootstrap_servers, "acks": "all"})
    for i in range(30):
        producer.produce(topic, value=b"a%d" % i)
    assert producer.flush(30) == 0
    leader = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "x"}).list_topics(
        topic, timeout=10).topics[topic].partitions[0].leader
    rafka_cluster.kill_node(leader)
    for i in range(30, 60):
        producer.produce(topic, value=b"a%d" % i)
    assert producer.flush(60) == 0
    assert read_all(bootstrap_servers, topic, 1, 60) == [b"a%d" % i for i in range(60)]
'''


def test_example_modules_produce_consume_and_survive_a_killed_leader(pytester):
    """Goal: through the fixtures alone, confluent-kafka and kafka-python
    produce and consume on a `rafka_topic`, and on three nodes every
    acknowledged write survives a kill -9 of the partition leader mid-test."""
    pytester.makepyfile(test_data_example=DATA_EXAMPLE)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=3)


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
