"""rafka's own tools on the peer listener (the msgpack client listener is
retired): a "client" connection must name the cluster id, and a node
answers a tool only from its tool tables, never with Raft traffic."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from rafka.broker.node.config import parse_config
from rafka.broker.node.messages import AddVoterRequest, QuorumStatusRequest
from rafka.broker.node.meta_properties import MetaProperties
from rafka.broker.node.node import Node
from rafka.netproto.connection import HandshakeRefusedError, open_connection
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.handshake import KIND_CLIENT, KIND_PEER
from rafka.netproto.server import RequestContext
from rafka.raft.messages import Heartbeat

from .test_netproto_helpers import CLUSTER, Echo, running_server


async def test_peer_listener_refuses_a_tool_without_the_cluster_id():
    """Goal: with clients_need_cluster_id a client naming no cluster id (or
    another one) is refused at the handshake; one naming ours is served."""

    async def handler(msg, ctx):
        return Echo(msg.text)

    with trio.fail_after(10):
        async with running_server(handler, clients_need_cluster_id=True) as port:
            for cluster_id in (None, "another-cluster"):
                with pytest.raises(HandshakeRefusedError) as err:
                    async with open_connection("127.0.0.1", port, cluster_id=cluster_id, kind=KIND_CLIENT):
                        pass
                assert err.value.code == ErrorCode.INCONSISTENT_CLUSTER_ID
            async with open_connection("127.0.0.1", port, cluster_id=CLUSTER, kind=KIND_CLIENT) as conn:
                assert (await conn.call(Echo("hi"), 5)).text == "hi"


def _node(tmp_path: Path) -> Node:
    config = parse_config({"node_id": 1, "data_dir": "d", "voters": ["1@127.0.0.1:1"],
                           "listeners": {"peer": "127.0.0.1:0"}}, tmp_path)
    return Node(config, MetaProperties(cluster_id=CLUSTER, node_id=1), metadata_services=False)


async def test_a_tool_gets_the_tool_table_and_never_reaches_raft(tmp_path):
    """Goal: on the peer listener a tool's QuorumStatus is answered, a tool's
    AddVoter goes to the tool (forwarding) handler not the peer one, and a
    Raft message from a tool is refused (INVALID_REQUEST), never delivered."""
    node = _node(tmp_path)
    calls = []

    async def tool_change(msg, ctx):
        calls.append(("tool", msg))
        return None

    async def peer_change(msg, ctx):
        calls.append(("peer", msg))
        return None

    node.tool_handlers[AddVoterRequest.TYPE] = tool_change
    node.peer_handlers[AddVoterRequest.TYPE] = peer_change
    node.status_response = lambda: "status"
    delivered = []
    node.driver = type("D", (), {"deliver": lambda self, m: delivered.append(m)})()
    tool = RequestContext(peer=("127.0.0.1", 1), kind=KIND_CLIENT, node_id=None, connection_id=1)
    peer = RequestContext(peer=("127.0.0.1", 2), kind=KIND_PEER, node_id=2, connection_id=2)

    assert await node._on_peer(QuorumStatusRequest(), tool) == "status"
    await node._on_peer(AddVoterRequest(4), tool)
    await node._on_peer(AddVoterRequest(4), peer)
    assert [who for who, _ in calls] == ["tool", "peer"]

    with pytest.raises(RafkaError) as err:
        await node._on_peer(Heartbeat(src=2, dst=1, term=1), tool)
    assert err.value.code == ErrorCode.INVALID_REQUEST and delivered == []
    await node._on_peer(Heartbeat(src=2, dst=1, term=1), peer)
    assert delivered == [Heartbeat(src=2, dst=1, term=1)]
