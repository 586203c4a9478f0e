"""Request header v0/v1/v2 decoding and response header v0/v1 encoding.

Request header: api_key int16, api_version int16, correlation_id int32;
v1 adds client_id (nullable int16-length string, legacy even in v2); v2
adds tagged fields (unsigned varint count, then tag/size/bytes each).
Response header: correlation_id int32; v1 adds an empty tagged-field count.
The header version follows from (api_key, api_version): schemas.py.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rafka.broker.kafka.errors import MalformedRequest
from rafka.broker.kafka.schemas import request_header_version

_FIXED = struct.Struct(">hhi")
_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
# A request header never needs more tagged fields than this.
HEADER_TAGGED_FIELDS_MAX = 64


@dataclass(frozen=True, slots=True)
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    header_version: int


def read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of an unsigned varint of at most 5 bytes."""
    value = 0
    for i in range(5):
        if pos >= len(buf):
            raise MalformedRequest("varint runs past the end of the frame")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return value, pos
    raise MalformedRequest("varint longer than 5 bytes")


def peek_correlation_id(frame: bytes) -> int | None:
    """The correlation id of a frame with at least the fixed header part."""
    if len(frame) < _FIXED.size:
        return None
    return _FIXED.unpack_from(frame, 0)[2]


def parse_request_header(frame: bytes) -> tuple[RequestHeader, int]:
    """(header, offset of the body). Raises MalformedRequest."""
    if len(frame) < _FIXED.size:
        raise MalformedRequest(f"frame of {len(frame)} bytes is shorter than a request header")
    api_key, api_version, correlation_id = _FIXED.unpack_from(frame, 0)
    if api_key < 0 or api_version < 0:
        raise MalformedRequest(f"negative api key {api_key} or version {api_version}")
    version = request_header_version(api_key, api_version)
    pos = _FIXED.size
    client_id = None
    if version >= 1:
        if pos + 2 > len(frame):
            raise MalformedRequest("frame ends inside the client id length")
        (length,) = _INT16.unpack_from(frame, pos)
        pos += 2
        if length >= 0:
            if pos + length > len(frame):
                raise MalformedRequest("client id runs past the end of the frame")
            try:
                client_id = frame[pos:pos + length].decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedRequest("client id is not UTF-8") from None
            pos += length
        elif length != -1:
            raise MalformedRequest(f"bad client id length {length}")
    if version >= 2:
        count, pos = read_uvarint(frame, pos)
        if count > HEADER_TAGGED_FIELDS_MAX:
            raise MalformedRequest(f"{count} tagged fields in a request header")
        for _ in range(count):
            _tag, pos = read_uvarint(frame, pos)
            size, pos = read_uvarint(frame, pos)
            pos += size
            if pos > len(frame):
                raise MalformedRequest("tagged field runs past the end of the frame")
    return RequestHeader(api_key, api_version, correlation_id, client_id, version), pos


def encode_response_header(correlation_id: int, header_version: int) -> bytes:
    if header_version == 0:
        return _INT32.pack(correlation_id)
    return _INT32.pack(correlation_id) + b"\x00"


def encode_request_header(header: RequestHeader) -> bytes:
    """For clients and tests: the request header bytes of `header`."""
    out = _FIXED.pack(header.api_key, header.api_version, header.correlation_id)
    if header.header_version >= 1:
        if header.client_id is None:
            out += _INT16.pack(-1)
        else:
            raw = header.client_id.encode("utf-8")
            out += _INT16.pack(len(raw)) + raw
    if header.header_version >= 2:
        out += b"\x00"
    return out
