"""Node-level admin messages of the metadata layer (asked by rafka's tools
on the peer listener).

The topic/broker admin requests themselves live in
broker/controller/requests.py; these are the extra questions a client asks
*one node* about its own copy of the metadata:

- MetadataStatusRequest -> MetadataStatusResponse: this node's applied
  metadata offset and image digest. The jepsen harness asks every node after
  healing and checks that all agree (same offset and digest).
- MetadataBarrierRequest -> MetadataBarrierResponse: a ReadIndex barrier.
  The node answers once its image holds every entry committed before the
  request arrived, so a read sent *after* the answer on the same connection
  is linearizable. (A read request with `consistent=True` does the same in
  one round trip when the request type has that field.)
"""

from __future__ import annotations

from dataclasses import dataclass

from rafka.netproto.schema import Message, register


@register
@dataclass(frozen=True)
class MetadataStatusRequest(Message):
    TYPE = "admin.MetadataStatusRequest"


@register
@dataclass(frozen=True)
class MetadataStatusResponse(Message):
    TYPE = "admin.MetadataStatusResponse"
    node_id: int
    metadata_offset: int
    digest: str
    topics: int
    partitions: int
    brokers: int
    # Whether this node is the active controller right now.
    is_active_controller: bool = False
    leader_id: int | None = None


@register
@dataclass(frozen=True)
class MetadataBarrierRequest(Message):
    TYPE = "admin.MetadataBarrierRequest"


@register
@dataclass(frozen=True)
class MetadataBarrierResponse(Message):
    """`metadata_offset`: the node's image offset once the barrier passed."""

    TYPE = "admin.MetadataBarrierResponse"
    metadata_offset: int
