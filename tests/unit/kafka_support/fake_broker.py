"""A BrokerView over a hand-built MetadataImage, for Kafka listener tests
without a Raft quorum. Admin requests go to a pure Controller-free stub
that records what it was asked."""

from __future__ import annotations

import io
import struct

import trio

from kio.serial import entity_reader, entity_writer

from rafka.broker.controller import requests as rq
from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.kafka.header import RequestHeader, encode_request_header
from rafka.broker.kafka.schemas import request_schema, response_schema
from rafka.broker.metadata import records as r
from rafka.broker.metadata.image import MetadataImage
from rafka.netproto.errors import ErrorCode

TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"  # 15 zero bytes and a 1


def sample_image(kafka_port: int = 9092, *, one_port: bool = False) -> MetadataImage:
    """Brokers 1-3 (3 fenced) at kafka_port+i-1 (all at kafka_port with
    one_port, for a real client against one in-process listener); topic
    "orders": partition 0 led by 1, partition 1 leaderless."""
    image = MetadataImage()
    off = 0
    for node in (1, 2, 3):
        off += 1
        port = kafka_port if one_port else kafka_port + node - 1
        image.apply(r.RegisterBrokerRecord(node, f"inc-{node}", node, "127.0.0.1", port, None, True), off)
    for node in (1, 2):
        off += 1
        image.apply(r.UnfenceBrokerRecord(node, node), off)
    off += 1
    image.apply_batch([
        r.TopicRecord("orders", TOPIC_ID),
        r.PartitionRecord(TOPIC_ID, 0, (1, 2, 3), (1, 2), 1, 4, 0),
        r.PartitionRecord(TOPIC_ID, 1, (2, 3, 1), (2,), None, 2, 0),
    ], off)
    return image


class FakeBroker:
    def __init__(self, image: MetadataImage | None = None, *, config: KafkaListenerConfig | None = None,
                 leader: int | None = 2) -> None:
        self.node_id = 1
        self.cluster_id = "test-cluster"
        self.config = config or KafkaListenerConfig()
        self.image = image if image is not None else sample_image()
        self.leader = leader
        self.routed: list = []

    def leader_id(self) -> int | None:
        return self.leader

    async def route_to_controller(self, msg, timeout_s=None):
        self.routed.append(msg)
        if isinstance(msg, rq.CreateTopicsRequest):
            return rq.CreateTopicsResponse(results=[
                rq.TopicResult(name=t.name, error_code=ErrorCode.NONE, topic_id="x") for t in msg.topics])
        raise AssertionError(f"unexpected {msg}")

    async def barrier(self) -> None:
        await trio.lowlevel.checkpoint()

    def quorum_status(self) -> dict:
        return {"leader_id": self.leader, "term": 3, "commit_index": 10, "voters": [1, 2, 3]}


# ------------------------------------------------------------ wire helpers
def request_frame(api_key: int, version: int, body, correlation_id: int = 1, client_id: str | None = "t") -> bytes:
    schema = request_schema(api_key, version)
    header = RequestHeader(api_key, version, correlation_id, client_id, 2 if schema.__flexible__ else 1)
    buf = io.BytesIO()
    entity_writer(type(body))(buf, body)
    payload = encode_request_header(header) + buf.getvalue()
    return struct.pack(">i", len(payload)) + payload


def parse_response(api_key: int, version: int, frame: bytes, header_version: int):
    """(correlation_id, body entity) of a response frame without its size."""
    (correlation_id,) = struct.unpack_from(">i", frame, 0)
    pos = 4 + (1 if header_version == 1 else 0)
    body, size = entity_reader(response_schema(api_key, version))(frame, pos)
    assert pos + size == len(frame)
    return correlation_id, body


class FrameReader:
    """Response frames from a stream, keeping bytes of the next frame."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.buf = b""

    async def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = await self.stream.receive_some(65536)
            assert chunk, "connection closed"
            self.buf += chunk

    async def read(self) -> bytes:
        await self._fill(4)
        (size,) = struct.unpack(">i", self.buf[:4])
        await self._fill(4 + size)
        frame, self.buf = self.buf[4:4 + size], self.buf[4 + size:]
        return frame

    async def closed(self) -> bool:
        """True when the peer closed the stream (after any queued bytes)."""
        try:
            chunk = await self.stream.receive_some(65536)
        except trio.BrokenResourceError:
            return True
        return not chunk
