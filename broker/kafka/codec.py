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
from rafka.broker.kafka.header import encode_response_header
from rafka.broker.kafka.precheck import check_body

_SIZE = struct.Struct(">i")


def decode_body(schema: type, frame: bytes, offset: int):
    check_body(schema, frame, offset)  # bound every length before kio allocates
    try:
        entity, size = entity_reader(schema)(frame, offset)
    except Exception as exc:  # noqa: BLE001 - kio's native decoder raises several types
        raise MalformedRequest(f"{schema.__name__} v{schema.__version__}: {type(exc).__name__}: {exc}") from None
    return entity


# Encoded bodies of responses a handler marked reusable (remember()), by
# identity; the entity is held, so its id cannot be reused while cached.
REUSABLE_BODIES_MAX = 64
_reusable: dict[int, tuple[object, bytes | None]] = {}


def remember(entity) -> None:
    """Mark a response entity the handler will return again unchanged
    (e.g. a cached Metadata answer): its bytes are encoded once."""
    if id(entity) in _reusable:
        return
    if len(_reusable) >= REUSABLE_BODIES_MAX:
        _reusable.pop(next(iter(_reusable)))
    _reusable[id(entity)] = (entity, None)


def encode_body(entity) -> bytes:
    cached = _reusable.get(id(entity))
    if cached is not None and cached[1] is not None:
        return cached[1]
    buf = io.BytesIO()
    entity_writer(type(entity))(buf, entity)
    data = buf.getvalue()
    if cached is not None:
        _reusable[id(entity)] = (entity, data)
    return data


def encode_response(correlation_id: int, header_version: int, entity) -> bytes:
    """A whole response frame: size, header, body."""
    payload = encode_response_header(correlation_id, header_version) + encode_body(entity)
    return _SIZE.pack(len(payload)) + payload
