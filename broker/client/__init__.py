"""Clients of a running cluster, for the CLI, `quorum up`, tests and tools.

admin_client.py (AdminClient: topic and broker requests to any node, with
controller failover) and node_client.py (node-level questions such as
quorum status, asked of one node or of the leader).

May import rafka.netproto and the request/response messages of metadata/,
controller/ and node/; never a server-side module.
"""
