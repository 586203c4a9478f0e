"""The pytest plugin: a real rafka cluster in your tests, no Docker, no JVM.

Fixtures (this module is registered through the `pytest11` entry point, so
installing rafka is all it takes):

- `rafka_cluster`: a running LocalCluster, one per node count per test
  session (1 node by default; `@pytest.mark.rafka(nodes=3)` or
  `--rafka-nodes 3`), on free 127.0.0.1 ports in a temporary directory. Its
  `stop_node(i)`, `kill_node(i)` and `restart_node(i)` let a test check how
  its own code behaves when a broker fails.
- `bootstrap_servers`: that cluster's `host:port,...` for any Kafka client.
- `rafka_topic`: a factory, `rafka_topic(partitions=1, replication_factor=1,
  config=None) -> name`, that creates a uniquely named topic and deletes it
  after the test.

Every wait has a deadline: a cluster that does not start fails the test
with the nodes' last log lines. Nodes are killed by pid at the end of the
session, and die with the test process even when it is killed.
"""

from __future__ import annotations

import atexit
import uuid

import pytest

from rafka.broker.testing.local_cluster import ClusterError, LocalCluster

TOPIC_TIMEOUT_S = 30.0


def pytest_addoption(parser) -> None:
    group = parser.getgroup("rafka")
    group.addoption("--rafka-nodes", type=int, default=1, help="nodes of the rafka_cluster fixture (default 1)")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "rafka(nodes=N): the rafka_cluster this test needs")


class _Clusters:
    """One LocalCluster per node count, started on first use."""

    def __init__(self, factory) -> None:
        self.factory = factory
        self.clusters: dict[int, LocalCluster] = {}
        atexit.register(self.close)

    def get(self, nodes: int) -> LocalCluster:
        cluster = self.clusters.get(nodes)
        if cluster is None:
            cluster = LocalCluster(self.factory.mktemp(f"rafka-{nodes}-nodes"), nodes)
            self.clusters[nodes] = cluster
            failure = None
            try:
                cluster.start()
            except ClusterError as exc:
                failure = str(exc)
            if failure is not None:
                cluster.close()
                del self.clusters[nodes]
                pytest.fail(f"rafka cluster of {nodes} nodes did not start: {failure}", pytrace=False)
        return cluster

    def close(self) -> None:
        for cluster in self.clusters.values():
            cluster.close()


@pytest.fixture(scope="session")
def _rafka_clusters(tmp_path_factory):
    clusters = _Clusters(tmp_path_factory)
    try:
        yield clusters
    finally:
        clusters.close()


@pytest.fixture
def rafka_cluster(request, _rafka_clusters) -> LocalCluster:
    marker = request.node.get_closest_marker("rafka")
    nodes = marker.kwargs.get("nodes", 1) if marker else request.config.getoption("--rafka-nodes")
    cluster = _rafka_clusters.get(nodes)
    # A node a previous test stopped or killed comes back for this one.
    for i in cluster.ids:
        if not cluster.alive(i):
            cluster.restart_node(i)
    return cluster


@pytest.fixture
def bootstrap_servers(rafka_cluster) -> str:
    return rafka_cluster.bootstrap_servers


@pytest.fixture
def rafka_topic(rafka_cluster):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": rafka_cluster.bootstrap_servers})
    created: list[str] = []

    def make(partitions: int = 1, replication_factor: int = 1, config: dict | None = None,
             prefix: str = "test") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        topic = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor,
                         config=dict(config or {}))
        admin.create_topics([topic], request_timeout=TOPIC_TIMEOUT_S)[name].result(timeout=TOPIC_TIMEOUT_S)
        created.append(name)
        _wait_leaders(admin, name, partitions)
        return name

    yield make
    if created:
        futures = admin.delete_topics(created, request_timeout=TOPIC_TIMEOUT_S)
        for future in futures.values():
            try:
                future.result(timeout=TOPIC_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - a test may have deleted it, or killed the cluster
                pass


def _wait_leaders(admin, name: str, partitions: int) -> None:
    """Until every partition of `name` has a leader in the cluster's Metadata."""
    import time

    deadline = time.monotonic() + TOPIC_TIMEOUT_S
    while time.monotonic() < deadline:
        md = admin.list_topics(name, timeout=5)
        t = md.topics.get(name)
        if t is not None and t.error is None and len(t.partitions) == partitions \
                and all(p.leader >= 0 for p in t.partitions.values()):
            return
        time.sleep(0.1)  # wait-ok: bounded by the deadline above
    raise ClusterError(f"topic {name}: not every partition has a leader after {TOPIC_TIMEOUT_S:g}s")
