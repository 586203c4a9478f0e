"""`rafka brokers list` over the Kafka listener, plus what no Kafka API carries.

- ids, host:port, rack and fenced: DescribeCluster v2 with
  `include_fenced_brokers` (KIP-1073) through the small kio client
  (confluent-kafka's describe_cluster lists only unfenced brokers). A client
  id ending in "+consistent" makes it a linearizable read.
- broker_epoch, in_controlled_shutdown and last_heartbeat_ms live in the
  active controller (the heartbeat times only in its memory): the CLI finds
  the quorum leader's peer listener in DescribeQuorum v2's `nodes` (listener
  "PEER"), the cluster id in Metadata, and asks ListBrokers there as a tool
  (broker/client/admin_client.py). Best effort within
  `CONTROLLER_TIMEOUT_S_MAX`: those fields are null when it cannot be asked.

Errors: RafkaError with Kafka's code (DescribeCluster's error), or
BrokersUnavailable when no bootstrap address answered.
"""

from __future__ import annotations

import trio
from kio.schema.describe_cluster.v2.request import DescribeClusterRequest

from rafka.broker.client.kafka_quorum import ask_quorum
from rafka.broker.client.kio_client import WIRE_ERRORS, ask_first, error_code
from rafka.broker.kafka.consistency import CONSISTENT_SUFFIX
from rafka.netproto.errors import RafkaError

CLIENT_ID = "rafka-cli"
PEER_LISTENER = "PEER"  # broker/kafka/apis/describe_quorum.py
# The controller-only fields are worth at most this long of the deadline.
CONTROLLER_TIMEOUT_S_MAX = 5.0


class BrokersUnavailable(Exception):
    """No bootstrap address answered over the Kafka protocol."""


async def describe_cluster(bootstrap: list[str], timeout_s: float,
                           consistent: bool = False) -> tuple[str, list[dict]]:
    """(answering address, [{"node_id", "host", "port", "rack", "fenced"}])
    of every registered broker, fenced ones included, by node id."""
    client_id = CLIENT_ID + (CONSISTENT_SUFFIX if consistent else "")
    request = DescribeClusterRequest(include_cluster_authorized_operations=False, include_fenced_brokers=True)
    errors: list[str] = []
    with trio.move_on_after(timeout_s):
        answer = await ask_first(bootstrap, [request], client_id=client_id, errors=errors)
        if answer is not None:
            address, (resp,) = answer
            if resp.error_code != 0:
                code = error_code(resp.error_code)
                raise RafkaError(code, resp.error_message or code.name)
            rows = [{"node_id": b.broker_id, "host": b.host, "port": b.port, "rack": b.rack,
                     "fenced": bool(b.is_fenced)} for b in resp.brokers]
            return address, sorted(rows, key=lambda r: r["node_id"])
    raise BrokersUnavailable("; ".join(errors) or f"no answer within {timeout_s}s")


def leader_peer_address(quorum) -> str | None:
    """The quorum leader's peer listener from a DescribeQuorum v2 response."""
    (part,) = quorum.topics[0].partitions
    for node in quorum.nodes:
        if node.node_id == part.leader_id:
            for listener in node.listeners:
                if listener.name == PEER_LISTENER:
                    return f"{listener.host}:{listener.port}"
    return None


async def controller_view(address: str, timeout_s: float) -> dict[int, object]:
    """node id -> the active controller's BrokerDescription, asked of the
    quorum leader's peer listener (found through `address`, a Kafka
    listener); {} when it cannot be asked."""
    from rafka.broker.client.admin_client import AdminClient

    with trio.move_on_after(timeout_s):
        try:
            cluster_id, quorum = await ask_quorum(address)
            peer = leader_peer_address(quorum)
            if cluster_id is None or peer is None:
                return {}
            client = AdminClient(peer, timeout_s=timeout_s, cluster_id=cluster_id)
            return {b.node_id: b for b in await client.list_brokers()}
        except (RafkaError, *WIRE_ERRORS):
            return {}
    return {}


async def list_brokers(bootstrap: list[str], timeout_s: float, consistent: bool = False) -> list[dict]:
    """`rafka brokers list`'s rows (brokers_cmd.py documents the keys)."""
    with trio.fail_after(timeout_s + 1):
        address, rows = await describe_cluster(bootstrap, timeout_s, consistent)
        view = await controller_view(address, min(timeout_s, CONTROLLER_TIMEOUT_S_MAX))
    for row in rows:
        b = view.get(row["node_id"])
        row["in_controlled_shutdown"] = None if b is None else b.in_controlled_shutdown
        row["broker_epoch"] = None if b is None else b.broker_epoch
        row["last_heartbeat_ms"] = None if b is None else b.last_heartbeat_ms
    return rows
