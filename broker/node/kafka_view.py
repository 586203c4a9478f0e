"""The node as the Kafka listener sees it (broker/kafka/context.BrokerView).

Why a view: Kafka API handlers must not know how the node is wired; they
read the image, ask for the Raft leader and route controller requests, all
through this one object. Everything is read at request time, so the view
can be built (and the listener bound) before the metadata services exist.
"""

from __future__ import annotations

from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.metadata.image import MetadataImage
from rafka.netproto.errors import ErrorCode, RafkaError


class NodeKafkaView:
    def __init__(self, node, config: KafkaListenerConfig) -> None:
        self._node = node
        self.node_id = node.node_id
        self.cluster_id = node.cluster_id
        self.config = config
        self._producer_ids = None
        self._caught_up = False  # wait_caught_up returned once

    @property
    def image(self) -> MetadataImage:
        return self._node.state_machine.image

    async def wait_caught_up(self) -> None:
        """Return once this broker's metadata image has caught up with the
        quorum (the controller acknowledged it: broker_lifecycle.py) and its
        partitions took their roles from that image, so no client is
        answered from an image left far behind by a restart. A node without
        a broker lifecycle answers from its image as it is. Once true it
        stays true, checked without a scheduler turn."""
        if self._caught_up:
            return
        await self._node.services_started.wait()
        services = self._node.services
        lifecycle = None if services is None else services.lifecycle
        if lifecycle is not None:
            await lifecycle.initial_catch_up.wait()
        replicas = self._node.replicas
        if replicas is not None:
            await replicas.roles_applied.wait()
        self._caught_up = True

    def leader_id(self) -> int | None:
        driver = self._node.driver
        return None if driver is None else driver.core.leader_id

    def _api(self):
        services = self._node.services
        if services is None:
            raise RafkaError(ErrorCode.NOT_CONTROLLER, f"node {self.node_id}: metadata services not started")
        return services.api

    async def route_to_controller(self, msg, timeout_s: float | None = None):
        return await self._api().route_to_controller(msg, timeout_s)

    async def barrier(self) -> None:
        await self._api().barrier()

    def observe_request(self, api: str, seconds: float, response) -> None:
        """Count a served request in the node's metrics (broker/kafka/dispatch.py)."""
        self._node.metrics.observe_request(api, seconds, response)

    def observe_requests(self, api: str, count: int, seconds: float, response) -> None:
        """Count `count` requests answered alike (the listener's cached
        answers, broker/kafka/answer_cache.py), `seconds` each."""
        self._node.metrics.observe_requests(api, count, seconds, response)

    async def change_voters(self, kind: str, node_id: int):
        """Add ("add") or remove ("remove") a voter of the metadata quorum
        (decided on the Raft leader; MembershipService forwards there)."""
        from rafka.broker.node.messages import AddVoterRequest, RemoveVoterRequest

        membership = self._node.membership
        if membership is None:
            raise RafkaError(ErrorCode.NOT_CONTROLLER, f"node {self.node_id}: membership not started")
        request = (AddVoterRequest if kind == "add" else RemoveVoterRequest)(node_id)
        return await membership.handle_tool_change(request)

    def quorum_status(self):
        return self._node.driver.status()

    def peer_address(self, node_id: int) -> tuple[str, int] | None:
        """(host, port) of node_id's peer listener as this node reaches it
        (its own: the bound listener), for DescribeQuorum's node listeners;
        None when unknown."""
        node = self._node
        if node_id == self.node_id:
            if node.peer_port is None:
                return None
            host = node.config.peer_listener.host
            return ("127.0.0.1" if host in ("0.0.0.0", "", "::") else host), node.peer_port
        return node.book.get(node_id)

    def controller_active(self) -> bool:
        services = self._node.services
        return services is not None and services.service is not None and services.service.is_active()

    @property
    def replicas(self):
        """The broker's ReplicaManager (None until the node built it)."""
        return self._node.replicas

    @property
    def groups(self):
        """The broker's group coordinator (broker/group/service.py; None
        until the node started it)."""
        return getattr(self._node, "groups", None)

    @property
    def producer_ids(self):
        """InitProducerId's allocator, made on first use: blocks come from
        the active controller, asked with this broker's epoch."""
        if self._producer_ids is None:
            services = self._node.services
            if services is None:
                return None
            from rafka.broker.replica.producer_ids import ProducerIdAllocator

            def broker_epoch():
                return None if services.lifecycle is None else services.lifecycle.broker_epoch

            self._producer_ids = ProducerIdAllocator(self.node_id, self.route_to_controller, broker_epoch)
        return self._producer_ids
