"""Handlers for the admin messages on the peer listener (from peers, and
from rafka's own tools that name the cluster id).

Why: a client may send any admin request to any node. Writes must reach the
active controller (the Raft leader); reads can be answered from the local
image, which may lag the leader unless the client asks for a linearizable
read.

- Writes (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs,
  ElectLeaders) from a tool: decided by the local controller when
  it is active, otherwise forwarded over the peer connection to the leader's
  peer listener. With no leader known, or when the forward surely was not
  sent, the answer is NOT_CONTROLLER (nothing happened; the client retries).
- Controller requests on the peer listener (forwarded writes and the broker
  lifecycle: registration, heartbeat, controlled shutdown, AlterPartition)
  are decided locally or refused with NOT_CONTROLLER; they are never
  forwarded again, so a request crosses at most one hop.
- Reads (DescribeTopic, ListTopics, ListBrokers) come from this node's
  image. With `consistent=True` (or after a MetadataBarrierRequest on the
  same connection) they first pass a ReadIndex barrier: linearizable.
- ListBrokers' `last_heartbeat_ms` lives only in the active controller's
  memory: a node that is not the active controller answers from its own
  image and asks the leader's peer listener for the heartbeat times (a
  ListBrokersRequest there is answered at once, outside the decision queue),
  best effort within `heartbeat_forward_timeout_ms`; null when it can't.
- MetadataStatus: this node's applied metadata offset and image digest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Awaitable, Callable, Protocol

import structlog
import trio

from rafka.broker.metadata.messages import (
    MetadataBarrierRequest,
    MetadataBarrierResponse,
    MetadataStatusRequest,
    MetadataStatusResponse,
)
from rafka.broker.controller import describe
from rafka.broker.controller import requests as rq
from rafka.broker.controller.service import ControllerService, RaftHandle, not_controller, now_ms
from rafka.broker.metadata.image import MetadataImage
from rafka.netproto.connection import NotSentError
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.schema import Message
from rafka.raft.errors import NotLeaderError, RaftError

log = structlog.get_logger("rafka.admin_api")

# (node_id, request, timeout_s) -> response, over the peer listener of node_id.
ForwardCall = Callable[[int, Message, float], Awaitable[Message | None]]
Handler = Callable[[Message, object], Awaitable[Message | None]]

WRITE_REQUESTS = (
    rq.CreateTopicsRequest,
    rq.DeleteTopicsRequest,
    rq.CreatePartitionsRequest,
    rq.AlterConfigsRequest,
    rq.ElectLeadersRequest,
)
BROKER_REQUESTS = (
    rq.BrokerRegistrationRequest,
    rq.BrokerHeartbeatRequest,
    rq.ControlledShutdownRequest,
    rq.AlterPartitionRequest,
    rq.AllocateProducerIdsRequest,
)
READ_REQUESTS = (rq.DescribeTopicRequest, rq.ListTopicsRequest, rq.ListBrokersRequest)


class ImageView(Protocol):
    image: MetadataImage


@dataclass(frozen=True)
class AdminApiConfig:
    # How long a write may wait for its decision (and a forward for its answer).
    request_timeout_ms: int = 8000
    # How long a consistent read may wait for its ReadIndex barrier.
    barrier_timeout_ms: int = 5000
    # How long a ListBrokers on a non-controller waits for the leader's
    # heartbeat times before answering with nulls.
    heartbeat_forward_timeout_ms: int = 500

    def __post_init__(self) -> None:
        if min(self.request_timeout_ms, self.barrier_timeout_ms, self.heartbeat_forward_timeout_ms) < 1:
            raise ValueError("admin api timeouts must be >= 1 ms")


class AdminApi:
    def __init__(
        self,
        node_id: int,
        raft: RaftHandle,
        metadata: ImageView,
        service: ControllerService | None,
        forward: ForwardCall,
        config: AdminApiConfig | None = None,
    ) -> None:
        self.node_id = node_id
        self.raft = raft
        self.metadata = metadata
        self.service = service
        self.forward = forward
        self.config = config or AdminApiConfig()

    # ----------------------------------------------------- handler tables
    def client_handlers(self) -> dict[str, Handler]:
        """Message TYPE -> handler for tool connections on the peer listener
        (merged into their dispatch and `accepts` set)."""
        table: dict[str, Handler] = {cls.TYPE: self.handle_write for cls in WRITE_REQUESTS}
        table.update({cls.TYPE: self.handle_read for cls in READ_REQUESTS})
        table[MetadataBarrierRequest.TYPE] = self.handle_barrier
        table[MetadataStatusRequest.TYPE] = self.handle_status
        return table

    def peer_handlers(self) -> dict[str, Handler]:
        """Message TYPE -> handler for the peer listener: requests for the
        active controller, decided here or refused, never forwarded."""
        types = (*WRITE_REQUESTS, *BROKER_REQUESTS, rq.ListBrokersRequest)
        return {cls.TYPE: self.handle_controller_request for cls in types}

    # -------------------------------------------------------------- writes
    @property
    def _timeout_s(self) -> float:
        return self.config.request_timeout_ms / 1000

    def _local_controller_active(self) -> bool:
        return self.service is not None and self.service.is_active()

    async def route_to_controller(self, msg: Message, timeout_s: float | None = None) -> Message | None:
        """Have the active controller decide `msg`, wherever it runs."""
        timeout_s = self._timeout_s if timeout_s is None else timeout_s
        if self._local_controller_active():
            assert self.service is not None
            return await self.service.submit(msg, timeout_s)
        leader_id = self.raft.leadership().leader_id
        if leader_id is None or leader_id == self.node_id:
            # No leader, or this node leads but its controller is not active
            # yet (activation barrier): nothing happened, retry shortly.
            raise not_controller(self.node_id, leader_id)
        try:
            with trio.fail_after(timeout_s):
                return await self.forward(leader_id, msg, timeout_s)
        except NotSentError as exc:
            raise RafkaError(ErrorCode.NOT_CONTROLLER,
                             f"could not reach the leader (node {leader_id}): {exc.message}") from None
        except trio.TooSlowError:
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT,
                             f"{msg.TYPE} forwarded to node {leader_id}: no answer in {timeout_s}s") from None

    async def handle_write(self, msg: Message, ctx: object = None) -> Message | None:
        return await self.route_to_controller(msg)

    async def handle_controller_request(self, msg: Message, ctx: object = None) -> Message | None:
        if self.service is None:
            raise not_controller(self.node_id, self.raft.leadership().leader_id)
        if isinstance(msg, rq.ListBrokersRequest):
            # Only the heartbeat times are wanted: answer at once (a read
            # of the controller's memory, no decision, no queue).
            if not self._local_controller_active():
                raise not_controller(self.node_id, self.raft.leadership().leader_id)
            return describe.list_brokers(self.metadata.image, self.service.controller.sessions, now_ms())
        return await self.service.submit(msg, self._timeout_s)

    # --------------------------------------------------------------- reads
    async def barrier(self) -> None:
        """Wait until the local image holds everything committed now."""
        timeout_s = self.config.barrier_timeout_ms / 1000
        try:
            with trio.fail_after(timeout_s):
                await self.raft.read_barrier()
        except trio.TooSlowError:
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT,
                             f"node {self.node_id}: read barrier not passed in {timeout_s}s") from None
        except NotLeaderError as exc:
            raise RafkaError(ErrorCode.LEADER_NOT_AVAILABLE,
                             f"node {self.node_id}: no leader to confirm a consistent read "
                             f"(hint {exc.leader_id})") from None
        except RaftError as exc:
            raise RafkaError(ErrorCode.LEADER_NOT_AVAILABLE, f"node {self.node_id}: {exc}") from None

    async def handle_read(self, msg: Message, ctx: object = None) -> Message:
        if getattr(msg, "consistent", False):
            await self.barrier()
        image = self.metadata.image
        if isinstance(msg, rq.DescribeTopicRequest):
            return describe.describe_topic(image, msg)
        if isinstance(msg, rq.ListTopicsRequest):
            return describe.list_topics(image)
        if isinstance(msg, rq.ListBrokersRequest):
            if self._local_controller_active():
                return describe.list_brokers(image, self.service.controller.sessions, now_ms())
            resp = describe.list_brokers(image)
            times = await self._controller_heartbeat_times()
            if not times:
                return resp
            return rq.ListBrokersResponse(
                brokers=[replace(b, last_heartbeat_ms=times.get(b.node_id)) for b in resp.brokers]
            )
        raise RafkaError(ErrorCode.INVALID_REQUEST, f"not a read: {msg.TYPE}")

    async def _controller_heartbeat_times(self) -> dict[int, int | None]:
        """node_id -> ms since the active controller last heard from it,
        asked of the leader; {} when there is none or it does not answer in
        `heartbeat_forward_timeout_ms` (best effort: never fails the read)."""
        leader_id = self.raft.leadership().leader_id
        if leader_id is None or leader_id == self.node_id:
            return {}
        timeout_s = self.config.heartbeat_forward_timeout_ms / 1000
        try:
            with trio.fail_after(timeout_s):
                resp = await self.forward(leader_id, rq.ListBrokersRequest(consistent=False), timeout_s)
        except (RafkaError, trio.TooSlowError, trio.BrokenResourceError, OSError) as exc:
            log.debug("admin.heartbeat_times_unavailable", node_id=self.node_id, leader_id=leader_id,
                      error=repr(exc))
            return {}
        if not isinstance(resp, rq.ListBrokersResponse):
            return {}
        return {b.node_id: b.last_heartbeat_ms for b in resp.brokers}

    async def handle_barrier(self, msg: Message, ctx: object = None) -> Message:
        await self.barrier()
        return MetadataBarrierResponse(metadata_offset=self.metadata.image.offset)

    async def handle_status(self, msg: Message, ctx: object = None) -> Message:
        image = self.metadata.image
        return MetadataStatusResponse(
            node_id=self.node_id,
            metadata_offset=image.offset,
            digest=image.digest(),
            topics=len(image.topics_by_name),
            partitions=image.partition_count,
            brokers=len(image.brokers),
            is_active_controller=self._local_controller_active(),
            leader_id=self.raft.leadership().leader_id,
        )
