"""Producer ids for InitProducerId on a broker: handed out from blocks the
active controller allocates in the metadata log (AllocateProducerIds ->
ProducerIdsRecord), so ids stay unique across brokers, restarts and
controller failovers. One block request at a time; callers queue on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from rafka.broker.controller.requests import AllocateProducerIdsRequest
from rafka.netproto.errors import ErrorCode, RafkaError


class ProducerIdAllocator:
    def __init__(self, node_id: int, route_to_controller: Callable[..., Awaitable],
                 broker_epoch: Callable[[], int | None]) -> None:
        self.node_id = node_id
        self.route = route_to_controller
        self.broker_epoch = broker_epoch
        self._next = 0
        self._end = 0  # exclusive end of the current block
        self._lock = trio.Lock()

    async def next_id(self) -> int:
        async with self._lock:
            if self._next >= self._end:
                epoch = self.broker_epoch()
                if epoch is None:
                    raise RafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, "broker not registered yet")
                resp = await self.route(AllocateProducerIdsRequest(self.node_id, epoch))
                self._next, self._end = resp.producer_id_start, resp.producer_id_start + resp.producer_id_len
            pid = self._next
            self._next += 1
            return pid
