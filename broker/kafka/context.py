"""What a Kafka API handler may see: the request header and a view of the
broker (its id, the cluster id, the current MetadataImage, the admin path
to the active controller, the listener config). Handlers never see sockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.kafka.header import RequestHeader
from rafka.broker.metadata.image import MetadataImage


# A handler's answer meaning "send nothing back" (Produce with acks=0).
NO_RESPONSE: Any = object()


class BrokerView(Protocol):
    node_id: int
    cluster_id: str
    config: KafkaListenerConfig

    @property
    def image(self) -> MetadataImage: ...

    def leader_id(self) -> int | None:
        """The Raft leader (the active controller) as this node knows it."""

    async def route_to_controller(self, msg: Any, timeout_s: float | None = None) -> Any:
        """Have the active controller decide a controller.* request
        (locally or forwarded over the peer listener); raises RafkaError."""

    async def barrier(self) -> None:
        """Wait until the local image holds everything committed now."""

    def quorum_status(self) -> dict:
        """The Raft driver's status() of this node."""

    @property
    def replicas(self) -> Any:
        """The broker's ReplicaManager (None before it exists)."""

    @property
    def producer_ids(self) -> Any:
        """The broker's ProducerIdAllocator (InitProducerId)."""


@dataclass(frozen=True, slots=True)
class RequestContext:
    header: RequestHeader
    broker: BrokerView
    client_host: str = ""  # the client's address as Kafka shows it ("/127.0.0.1"), "" when unknown

    @property
    def version(self) -> int:
        return self.header.api_version
