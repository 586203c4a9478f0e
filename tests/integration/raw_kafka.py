"""A tiny blocking Kafka wire client for tests: kio request entities in,
kio response entities out, over one plain socket (so a test controls
exactly which bytes reach the broker)."""

from __future__ import annotations

import io
import socket
import struct

from kio.serial import entity_reader, entity_writer

from rafka.broker.kafka.header import RequestHeader, encode_request_header
from rafka.broker.kafka.schemas import request_header_version, response_header_version, response_schema

_SIZE = struct.Struct(">i")
RESPONSE_BYTES_MAX = 64 * 1024 * 1024


class RawKafka:
    def __init__(self, address: str, timeout_s: float = 15.0) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        self.correlation_id = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, entity) -> int:
        """Send one request; returns its correlation id."""
        key, version = int(entity.__api_key__), int(entity.__version__)
        self.correlation_id += 1
        header = RequestHeader(key, version, self.correlation_id, "raw-test", request_header_version(key, version))
        body = io.BytesIO()
        entity_writer(type(entity))(body, entity)
        payload = encode_request_header(header) + body.getvalue()
        self.sock.sendall(_SIZE.pack(len(payload)) + payload)
        return self.correlation_id

    def _exactly(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("connection closed by the broker")
            out += chunk
        return bytes(out)

    def receive(self, key: int, version: int):
        """(correlation id, response entity) of the next response frame."""
        size = _SIZE.unpack(self._exactly(4))[0]
        assert 0 <= size <= RESPONSE_BYTES_MAX
        frame = self._exactly(size)
        correlation_id = _SIZE.unpack_from(frame, 0)[0]
        pos = 4 + (1 if response_header_version(key, version) >= 1 else 0)
        entity, _ = entity_reader(response_schema(key, version))(frame, pos)
        return correlation_id, entity

    def call(self, entity):
        cid = self.send(entity)
        got, resp = self.receive(int(entity.__api_key__), int(entity.__version__))
        assert got == cid, f"response {got} for request {cid}"
        return resp
