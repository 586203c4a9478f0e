"""Request bodies decoded and response bodies encoded with kio.

A body that kio cannot read is malformed (the connection closes); any
exception kio's native decoder raises on hostile input is caught here and
becomes MalformedRequest. Bytes after the body are ignored, as Kafka's own
generated readers do (librdkafka 2.x sends a few after its Metadata v12
body, and Kafka brokers accept it).
"""

from __future__ import annotations

import io
import struct

from kio.serial import entity_reader, entity_writer

from rafka.broker.kafka.errors import MalformedRequest
from rafka.broker.kafka.precheck import check_body

_SIZE_CORRELATION = struct.Struct(">ii")


def decode_body(schema: type, frame: bytes, offset: int):
    check_body(schema, frame, offset)  # bound every length before kio allocates
    try:
        entity, size = entity_reader(schema)(frame, offset)
    except Exception as exc:  # noqa: BLE001 - kio's native decoder raises several types
        raise MalformedRequest(f"{schema.__name__} v{schema.__version__}: {type(exc).__name__}: {exc}") from None
    return entity


def encode_body(entity) -> bytes:
    buf = io.BytesIO()
    entity_writer(type(entity))(buf, entity)
    return buf.getvalue()


def frame_response(correlation_id: int, header_version: int, body: bytes) -> bytes:
    """A whole response frame (size, header, body) around an encoded body."""
    if header_version == 0:
        return _SIZE_CORRELATION.pack(len(body) + 4, correlation_id) + body
    return _SIZE_CORRELATION.pack(len(body) + 5, correlation_id) + b"\x00" + body


def encode_response(correlation_id: int, header_version: int, entity) -> bytes:
    """A whole response frame: size, header, body."""
    return frame_response(correlation_id, header_version, encode_body(entity))
