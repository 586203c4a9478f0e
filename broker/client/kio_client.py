"""A small Kafka-protocol client on kio entities, for what confluent-kafka
does not expose (DescribeQuorum) and for tools that need raw requests
(the fuzzer's liveness probe, the kafka-requests benchmark).

One connection, requests pipelined, responses read in order (Kafka answers
in request order per connection). No retries: callers decide.
"""

from __future__ import annotations

import io
import itertools
import struct

import trio
from kio.index import load_response_schema
from kio.serial import entity_reader, entity_writer

from rafka.broker.kafka.header import RequestHeader, encode_request_header
from rafka.broker.kafka.schemas import request_header_version, response_header_version
from rafka.netproto.addresses import as_addr
from rafka.netproto.errors import ErrorCode

_SIZE = struct.Struct(">i")
# A response bigger than this is refused (the connection is then unusable).
RESPONSE_BYTES_MAX = 100 * 1024 * 1024


class KafkaWireError(Exception):
    """A broken connection or an unreadable response."""


def encode_request(body, correlation_id: int, client_id: str = "rafka") -> bytes:
    key, version = int(body.__api_key__), int(body.__version__)
    header = RequestHeader(key, version, correlation_id, client_id, request_header_version(key, version))
    buf = io.BytesIO()
    entity_writer(type(body))(buf, body)
    payload = encode_request_header(header) + buf.getvalue()
    return _SIZE.pack(len(payload)) + payload


def decode_response(api_key: int, version: int, frame: bytes):
    """(correlation_id, response entity) of a response frame without its size."""
    (correlation_id,) = struct.unpack_from(">i", frame, 0)
    pos = 4 + (1 if response_header_version(api_key, version) == 1 else 0)
    body, _ = entity_reader(load_response_schema(api_key, version))(frame, pos)
    return correlation_id, body


class KioConnection:
    def __init__(self, stream: trio.SocketStream, client_id: str = "rafka") -> None:
        self.stream = stream
        self.client_id = client_id
        self._ids = itertools.count(1)
        self._buf = bytearray()
        self._pending: list[tuple[int, int, int]] = []  # (correlation id, api key, version)

    @classmethod
    async def connect(cls, host: str, port: int, client_id: str = "rafka") -> KioConnection:
        return cls(await trio.open_tcp_stream(host, port), client_id)

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def send(self, body) -> None:
        corr = next(self._ids)
        self._pending.append((corr, int(body.__api_key__), int(body.__version__)))
        await self.stream.send_all(encode_request(body, corr, self.client_id))

    async def receive(self):
        """The response to the oldest request sent and not yet received."""
        corr, key, version = self._pending.pop(0)
        frame = await self._read_frame()
        try:
            got, body = decode_response(key, version, frame)
        except Exception as exc:  # noqa: BLE001 - kio's decoder raises several types
            raise KafkaWireError(f"unreadable response to api key {key} v{version}: {exc!r}") from None
        if got != corr:
            raise KafkaWireError(f"response correlation id {got}, expected {corr}")
        return body

    async def request(self, body):
        await self.send(body)
        return await self.receive()

    async def _fill(self, n: int) -> None:
        while len(self._buf) < n:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, OSError) as exc:
                raise KafkaWireError(f"connection broken: {exc!r}") from None
            if not data:
                raise KafkaWireError("connection closed by the broker")
            self._buf += data

    async def _read_frame(self) -> bytes:
        await self._fill(4)
        (size,) = _SIZE.unpack_from(self._buf, 0)
        if not 4 <= size <= RESPONSE_BYTES_MAX:
            raise KafkaWireError(f"response size {size}")
        await self._fill(4 + size)
        frame = bytes(self._buf[4:4 + size])
        del self._buf[:4 + size]
        return frame


# What a connection that did not answer raises.
WIRE_ERRORS = (OSError, KafkaWireError, trio.BrokenResourceError)


def error_code(value: int) -> ErrorCode:
    """Kafka's error code as ours (UNKNOWN_SERVER_ERROR when we do not know it)."""
    try:
        return ErrorCode(int(value))
    except ValueError:
        return ErrorCode.UNKNOWN_SERVER_ERROR


async def connect(address: str, client_id: str) -> KioConnection:
    """A connection to "host:port" (netproto.addresses rules)."""
    return await KioConnection.connect(*as_addr(address), client_id=client_id)


async def ask_first(bootstrap: list[str], requests: list, *, client_id: str,
                    errors: list[str]) -> tuple[str, list] | None:
    """Send `requests` (pipelined) to each bootstrap address in turn: the
    first address that answers them all, with its responses, or None. Each
    address that did not is noted in `errors`; the caller bounds the time."""
    for address in bootstrap:
        try:
            conn = await connect(address, client_id)
        except OSError as exc:
            errors.append(f"{address}: {exc}")
            continue
        try:
            for req in requests:
                await conn.send(req)
            return address, [await conn.receive() for _ in requests]
        except WIRE_ERRORS as exc:
            errors.append(f"{address}: {exc}")
        finally:
            await conn.aclose()
    return None
