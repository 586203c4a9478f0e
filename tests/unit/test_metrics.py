"""Node metrics: the scrape-time gauges judge what the node knows, the
instruments count, and the HTTP endpoint serves Prometheus' text format."""

from __future__ import annotations

import trio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from rafka.broker.metadata.image import BrokerRegistration, MetadataImage, PartitionState, TopicImage
from rafka.broker.metrics.cluster import ClusterCollector, GroupOffset, HostedPartition
from rafka.broker.metrics.http import serve_metrics
from rafka.broker.metrics.instruments import NodeInstruments
from rafka.raft.status import PeerStatus, RaftStatus


def samples(registry) -> dict:
    out = {}
    for fam in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def image_with(partitions, fenced=(3,), min_isr="2") -> MetadataImage:
    image = MetadataImage()
    for i in (1, 2, 3):
        image.brokers[i] = BrokerRegistration(i, "x", 1, "h", 9092, None, i in fenced, False, 0)
    t = TopicImage("orders", "tid")
    t.partitions = partitions
    t.configs["min.insync.replicas"] = min_isr
    image.topics_by_name["orders"] = t
    return image


class Source:
    def __init__(self, st, image, parts, groups=()):
        self.st, self.img, self.parts, self.groups = st, image, parts, list(groups)

    def group_offsets(self):
        return self.groups

    def raft_status(self):
        return self.st

    def image(self):
        return self.img

    def partitions(self):
        return self.parts


def test_gauges_follow_raft_image_and_partitions():
    """Goal: role, term, commit and voter lag from the RaftStatus; fenced
    brokers and every partition-health count from the image; log end, HW,
    log start and ISR size of hosted partitions."""
    st = RaftStatus(node_id=1, role="leader", leader_id=1, term=7, commit_index=40, last_index=42,
                    voters=[1, 2, 3], peers={1: PeerStatus(match_index=42), 2: PeerStatus(match_index=40),
                                             3: PeerStatus(match_index=30)})
    parts = [
        PartitionState("tid", 0, (1, 2, 3), (1, 2, 3), 1, 0, 0),  # healthy
        PartitionState("tid", 1, (1, 2, 3), (1,), 1, 0, 0),  # under-replicated and under min ISR
        PartitionState("tid", 2, (3,), (3,), None, 0, 0),  # leaderless and offline (3 fenced)
    ]
    hosted = [HostedPartition("orders", 0, True, 5, 100, 90, 3), HostedPartition("orders", 1, False, 0, 10, 10, 1)]
    groups = [GroupOffset("g1", "orders", 0, 60, 40), GroupOffset("g1", "orders", 2, 7, None)]
    reg = CollectorRegistry()
    reg.register(ClusterCollector(Source(st, image_with(parts), hosted, groups)))
    got = samples(reg)
    assert got[("rafka_raft_role", (("role", "leader"),))] == 1
    assert got[("rafka_raft_role", (("role", "follower"),))] == 0
    assert got[("rafka_raft_term", ())] == 7 and got[("rafka_raft_commit_index", ())] == 40
    assert got[("rafka_raft_voter_lag_entries", (("voter", "3"),))] == 12
    assert got[("rafka_brokers", (("state", "fenced"),))] == 1
    assert got[("rafka_brokers", (("state", "unfenced"),))] == 2
    assert got[("rafka_partitions_under_replicated", ())] == 1
    assert got[("rafka_partitions_under_min_isr", ())] == 2  # partitions 1 and 2 (ISR of 1 < 2)
    assert got[("rafka_partitions_leaderless", ())] == 1 and got[("rafka_partitions_offline", ())] == 1
    key = (("partition", "0"), ("topic", "orders"))
    assert got[("rafka_partition_log_end_offset", key)] == 100
    assert got[("rafka_partition_high_watermark", key)] == 90
    assert got[("rafka_partition_log_start_offset", key)] == 5
    assert got[("rafka_partition_isr_size", key)] == 3
    assert ("rafka_partition_isr_size", (("partition", "1"), ("topic", "orders"))) not in got  # follower
    g0 = (("group", "g1"), ("partition", "0"), ("topic", "orders"))
    g2 = (("group", "g1"), ("partition", "2"), ("topic", "orders"))
    assert got[("rafka_group_committed_offset", g0)] == 60 and got[("rafka_group_lag", g0)] == 40
    assert got[("rafka_group_committed_offset", g2)] == 7 and ("rafka_group_lag", g2) not in got  # end unknown


def test_instruments_count_requests_errors_and_latency():
    """Goal: a request bumps its API's counter and histogram; an error also
    its (API, error name) counter."""
    m = NodeInstruments()
    m.observe_request("Produce", 0.002)
    m.observe_request("Produce", 0.004, error="NOT_LEADER_OR_FOLLOWER")
    got = samples(m.registry)
    assert got[("rafka_kafka_requests_total", (("api", "Produce"),))] == 2
    assert got[("rafka_kafka_request_errors_total", (("api", "Produce"), ("error", "NOT_LEADER_OR_FOLLOWER")))] == 1
    assert got[("rafka_kafka_request_seconds_count", (("api", "Produce"),))] == 2


async def test_http_endpoint_serves_metrics_and_refuses_the_rest():
    """Goal: GET /metrics answers the text format; another path 404, another
    method 405, a client that sends garbage or nothing only loses its own
    connection and the endpoint keeps answering."""
    m = NodeInstruments()
    m.observe_request("Metadata", 0.001)

    async def get(port, raw: bytes) -> bytes:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(raw)
            data = b""
            while chunk := await stream.receive_some(65536):
                data += chunk
        return data

    async with trio.open_nursery() as nursery:
        port = await nursery.start(lambda task_status: serve_metrics(m.registry, "127.0.0.1", 0, node_id=1,
                                                                     task_status=task_status))
        ok = await get(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200") and b'rafka_kafka_requests_total{api="Metadata"} 1.0' in ok
        assert (await get(port, b"GET / HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 404")
        assert (await get(port, b"POST /metrics HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 405")
        assert await get(port, b"\x00" * 9000) == b""
        assert (await get(port, b"GET /metrics HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 200")
        nursery.cancel_scope.cancel()


def test_applied_metadata_records_count_as_controller_events():
    """Goal: every applied metadata record bumps the controller-events
    counter of its record type (the node hooks this to the metadata state
    machine's listeners)."""
    from types import SimpleNamespace

    from rafka.broker.metadata.records import TopicRecord
    from rafka.broker.node.node_metrics import NodeMetrics

    node = SimpleNamespace(driver=None, state_machine=None, replicas=None, groups=None, node_id=1)
    m = NodeMetrics(node)
    m.on_metadata(5, [TopicRecord("a", "id-a"), TopicRecord("b", "id-b")])
    got = samples(m.instruments.registry)
    assert got[("rafka_controller_events_total", (("event", "TopicRecord"),))] == 2
