"""Clients of a running cluster, for the CLI, `quorum up`, tests and tools.

Over rafka's msgpack protocol, as a tool of the nodes' peer listeners
(naming the cluster id): admin_client.py (AdminClient: topic and broker
requests to any node, with controller failover) and node_client.py
(node-level questions such as quorum status, asked of one node or of the
leader). Over the Kafka protocol: kio_client.py (a pipelined kio
connection), kafka_admin.py (the CLI's topic commands: confluent-kafka for
writes, kio for reads) and kafka_quorum.py (DescribeQuorum for `quorum
status`).

May import rafka.netproto, the request/response messages of metadata/,
controller/ and node/, and broker/kafka's pure codec pieces (header,
schemas, topic ids, the consistent-read suffix); never a server-side
module that serves or wires anything.
"""
