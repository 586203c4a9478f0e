"""The connection handshake (pure checks + the built-in messages).

The first frame a client sends is a REQUEST ``Handshake`` with correlation
id 0; the server answers ``HandshakeOk`` (carrying its cluster id and node
id) or an ERROR frame and closes:

- UNSUPPORTED_VERSION when ``protocol_version`` differs from ours;
- INCONSISTENT_CLUSTER_ID when ``cluster_id`` names another cluster. A
  "client" connection may send ``cluster_id=None`` meaning "any" (the CLI
  does not know the id in advance and learns it from ``HandshakeOk``) unless
  the listener requires it (``clients_need_cluster_id``: a node's peer
  listener, where rafka's own tools ask status questions); a "peer" must
  name it and its ``node_id``;
- INVALID_REQUEST for an unknown or refused connection kind.

Why: two clusters on one machine, or a node restarted on another cluster's
data, must never exchange Raft or replica traffic.
"""

from __future__ import annotations

from dataclasses import dataclass

from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.schema import Message, register

PROTOCOL_VERSION = 1
KIND_CLIENT = "client"
KIND_PEER = "peer"
CONNECTION_KINDS = frozenset({KIND_CLIENT, KIND_PEER})


@register
@dataclass(frozen=True)
class Handshake(Message):
    TYPE = "netproto.Handshake"
    protocol_version: int
    cluster_id: str | None
    kind: str
    node_id: int | None = None


@register
@dataclass(frozen=True)
class HandshakeOk(Message):
    TYPE = "netproto.HandshakeOk"
    protocol_version: int
    cluster_id: str
    node_id: int


@register
@dataclass(frozen=True)
class Ack(Message):
    """The response to a request whose handler returned None."""

    TYPE = "netproto.Ack"


BUILTIN_TYPES = frozenset({Handshake.TYPE, HandshakeOk.TYPE, Ack.TYPE})


def check_handshake(hs: Handshake, *, cluster_id: str, kinds: frozenset[str] | None,
                    clients_need_cluster_id: bool = False) -> None:
    """Raise RafkaError with the refusal code if ``hs`` may not connect."""
    if hs.protocol_version != PROTOCOL_VERSION:
        raise RafkaError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"protocol version {hs.protocol_version} not supported (server speaks {PROTOCOL_VERSION})",
        )
    if hs.kind not in CONNECTION_KINDS:
        raise RafkaError(ErrorCode.INVALID_REQUEST, f"unknown connection kind {hs.kind!r}")
    if kinds is not None and hs.kind not in kinds:
        raise RafkaError(ErrorCode.INVALID_REQUEST, f"this listener does not accept {hs.kind!r} connections")
    if hs.cluster_id is None:
        if hs.kind != KIND_CLIENT:
            raise RafkaError(ErrorCode.INCONSISTENT_CLUSTER_ID, "a peer must name its cluster id")
        if clients_need_cluster_id:
            raise RafkaError(ErrorCode.INCONSISTENT_CLUSTER_ID, "a client of this listener must name its cluster id")
    elif hs.cluster_id != cluster_id:
        raise RafkaError(
            ErrorCode.INCONSISTENT_CLUSTER_ID,
            f"cluster id {hs.cluster_id!r} does not match this node's {cluster_id!r}",
        )
    if hs.kind == KIND_PEER and hs.node_id is None:
        raise RafkaError(ErrorCode.INVALID_REQUEST, "a peer must name its node id")
