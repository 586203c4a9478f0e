"""The counters and histograms the hot paths bump, one registry per node."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Seconds: from 0.1 ms (a cached Metadata answer) to 10 s (a long poll).
LATENCY_BUCKETS_S = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FSYNC_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class NodeInstruments:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("rafka_kafka_requests_total", "Kafka API requests answered, by API",
                                ["api"], registry=r)
        self.request_errors = Counter("rafka_kafka_request_errors_total",
                                      "Kafka API errors returned, by API and Kafka error name",
                                      ["api", "error"], registry=r)
        self.request_seconds = Histogram("rafka_kafka_request_seconds", "Kafka API request latency, by API",
                                         ["api"], buckets=LATENCY_BUCKETS_S, registry=r)
        self.bytes_in = Counter("rafka_topic_bytes_in_total", "Record batch bytes appended by producers, by topic",
                                ["topic"], registry=r)
        self.bytes_out = Counter("rafka_topic_bytes_out_total", "Record batch bytes served to consumers, by topic",
                                 ["topic"], registry=r)
        self.fsync_seconds = Histogram("rafka_log_fsync_seconds", "Duration of one group-committed log fsync",
                                       buckets=FSYNC_BUCKETS_S, registry=r)
        self.controller_events = Counter("rafka_controller_events_total",
                                         "Controller decisions committed, by kind", ["event"], registry=r)

    def observe_request(self, api: str, seconds: float, error: str | None = None) -> None:
        self.requests.labels(api).inc()
        self.request_seconds.labels(api).observe(seconds)
        if error is not None:
            self.request_errors.labels(api, error).inc()
