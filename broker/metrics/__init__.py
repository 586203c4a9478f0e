"""Prometheus metrics of a node (issue 14), served over HTTP.

instruments.py: the counters and histograms the hot paths bump (requests
by API and error, request latency, bytes in/out per topic, fsync latency,
controller events), in one registry per node (never the process-global
one, so tests can run several nodes in a process). cluster.py: gauges
computed at scrape time from what the node already knows (its RaftStatus,
its MetadataImage, its partitions), so nothing on the hot path keeps them
up to date. http.py: the trio HTTP endpoint (`/metrics`).

Names follow Prometheus conventions (`rafka_..._total`, `_seconds`,
`_bytes`); labels are bounded: API names, error names, topics, partitions,
roles, never a client id or an offset. docs/metrics.md lists them all.

May import prometheus_client, raft/ status types and metadata/ image types;
the node wires it (broker/node/).
"""
