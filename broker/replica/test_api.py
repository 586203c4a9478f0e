"""A test-only peer path into the ReplicaManager, served only when the node
runs with RAFKA_REPLICA_TEST_API=1 in its environment (integration tests,
until the Kafka listener serves Produce and Fetch).

- replica.AppendForTestRequest: `ReplicaManager.append` on this node;
- replica.ReadForTestRequest: this node's view of a partition (any role): its
  log bytes from the start (bounded), log end, durable offset, HW, epoch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.schema import Message, register

ENV_FLAG = "RAFKA_REPLICA_TEST_API"
READ_BYTES_MAX = 8 * 1024 * 1024


def enabled() -> bool:
    return os.environ.get(ENV_FLAG) == "1"


@register
@dataclass(frozen=True)
class AppendForTestRequest(Message):
    TYPE = "replica.AppendForTestRequest"
    topic: str
    partition: int
    records: bytes
    acks: int
    timeout_ms: int


@register
@dataclass(frozen=True)
class AppendForTestResponse(Message):
    TYPE = "replica.AppendForTestResponse"
    error_code: int
    base_offset: int = -1
    last_offset: int = -1
    error_message: str | None = None


@register
@dataclass(frozen=True)
class ReadForTestRequest(Message):
    TYPE = "replica.ReadForTestRequest"
    topic: str
    partition: int


@register
@dataclass(frozen=True)
class ReadForTestResponse(Message):
    TYPE = "replica.ReadForTestResponse"
    error_code: int
    is_leader: bool = False
    leader_epoch: int = -1
    high_watermark: int = -1
    log_end_offset: int = -1
    durable_offset: int = -1
    records: bytes = b""


class ReplicaTestApi:
    def __init__(self, manager) -> None:
        self.manager = manager

    def peer_handlers(self) -> dict:
        return {AppendForTestRequest.TYPE: self.append, ReadForTestRequest.TYPE: self.read}

    async def append(self, req: AppendForTestRequest, ctx) -> AppendForTestResponse:
        try:
            res = await self.manager.append(req.topic, req.partition, req.records, acks=req.acks,
                                            timeout_s=req.timeout_ms / 1000)
        except RafkaError as exc:
            return AppendForTestResponse(int(exc.code), error_message=exc.message)
        return AppendForTestResponse(0, res.base_offset, res.last_offset)

    async def read(self, req: ReadForTestRequest, ctx) -> ReadForTestResponse:
        p = self.manager.by_name.get((req.topic, req.partition))
        if p is None:
            return ReadForTestResponse(int(ErrorCode.NOT_LEADER_OR_FOLLOWER))
        data = b""
        if p.log.log_end_offset > p.log.log_start_offset:
            offset, parts = p.log.log_start_offset, []
            while offset < p.log.log_end_offset and sum(map(len, parts)) < READ_BYTES_MAX:
                chunk = p.log.read(offset, 1024 * 1024)
                if not chunk:
                    break
                from rafka.broker.replica.produce_validation import iter_headers

                last = list(iter_headers(chunk))[-1]
                parts.append(chunk)
                offset = last.next_offset
            data = b"".join(parts)
        if len(data) > READ_BYTES_MAX:
            raise RafkaError(ErrorCode.INVALID_REQUEST, "log too big for the test read")
        return ReadForTestResponse(0, p.leader is not None, p.role.leader_epoch, p.high_watermark,
                                p.log.log_end_offset, p.durable_offset, data)
