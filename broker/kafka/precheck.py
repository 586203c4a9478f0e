"""Bound every length in a request body before kio decodes it.

Why: kio's native decoder reserves memory for an array from its declared
length, before reading the elements; a hostile length (2^31 elements)
makes it try to allocate tens of GiB and the allocation failure aborts the
whole process. This walker reads the body as the schema says, without
building anything, and refuses any array, string or bytes length that
exceeds the bytes left (each array element takes at least one byte), so
what reaches kio is bounded by the frame size.

The walk follows kio's encoding rules: compact (unsigned varint, length+1,
0 = null) lengths in flexible versions, int16 string / int32 bytes and
array lengths (-1 = null) in the others, a one-byte marker before a
nullable struct, and tagged fields (count, then tag, size, data) after the
fields of a flexible struct.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import fields

from kio.serial._introspect import EntityField, EntityTupleField, PrimitiveTupleField, classify_field, is_optional

from rafka.broker.kafka.errors import MalformedRequest

_FIXED = {
    "int8": 1, "bool": 1, "uint8": 1, "int16": 2, "uint16": 2, "error_code": 2, "int32": 4, "uint32": 4,
    "timedelta_i32": 4, "int64": 8, "uint64": 8, "float64": 8, "timedelta_i64": 8, "datetime_i64": 8,
    "uuid": 16,
}
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


def _uvarint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    for i in range(5):
        if pos >= end:
            raise MalformedRequest("varint runs past the end of the body")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return value, pos
    raise MalformedRequest("varint longer than 5 bytes")


def _need(pos: int, n: int, end: int, what: str) -> int:
    if n < 0 or pos + n > end:
        raise MalformedRequest(f"{what}: length {n} exceeds the {end - pos} bytes left")
    return pos + n


@functools.cache
def _plan(schema: type) -> tuple:
    """(regular fields, {tag: field}) of an entity, each field as
    (name, kind, kafka_type, inner schema, optional)."""
    regular, tagged = [], {}
    for f in fields(schema):
        info = classify_field(f)
        if isinstance(info, EntityTupleField):
            item = ("entity_array", None, info.type_, is_optional(f))
        elif isinstance(info, EntityField):
            item = ("entity", None, info.type_, is_optional(f))
        elif isinstance(info, PrimitiveTupleField):
            item = ("array", f.metadata["kafka_type"], None, is_optional(f))
        else:
            item = ("primitive", f.metadata["kafka_type"], None, is_optional(f))
        tag = f.metadata.get("tag")
        if tag is None:
            regular.append((f.name, *item))
        else:
            tagged[tag] = (f.name, *item)
    return tuple(regular), tagged


def _array_length(buf: bytes, pos: int, end: int, flexible: bool, name: str) -> tuple[int, int]:
    if flexible:
        n, pos = _uvarint(buf, pos, end)
        n -= 1  # 0 is null: -1
    else:
        pos = _need(pos, 4, end, name)
        (n,) = _I32.unpack_from(buf, pos - 4)
    if n < -1:
        raise MalformedRequest(f"{name}: negative array length {n}")
    if n > end - pos:  # every element takes at least one byte
        raise MalformedRequest(f"{name}: {n} elements in {end - pos} bytes")
    return n, pos


def _primitive(buf: bytes, pos: int, end: int, kafka_type: str, flexible: bool, name: str) -> int:
    size = _FIXED.get(kafka_type)
    if size is not None:
        return _need(pos, size, end, name)
    if kafka_type == "string":
        if flexible:
            n, pos = _uvarint(buf, pos, end)
            return _need(pos, max(n - 1, 0), end, name)
        pos = _need(pos, 2, end, name)
        (n,) = _I16.unpack_from(buf, pos - 2)
        return pos if n == -1 else _need(pos, n, end, name)
    if kafka_type in ("bytes", "records"):
        if flexible:
            n, pos = _uvarint(buf, pos, end)
            return _need(pos, max(n - 1, 0), end, name)
        pos = _need(pos, 4, end, name)
        (n,) = _I32.unpack_from(buf, pos - 4)
        return pos if n == -1 else _need(pos, n, end, name)
    raise MalformedRequest(f"{name}: no length rule for {kafka_type}")


def _field(buf: bytes, pos: int, end: int, flexible: bool, spec) -> int:
    name, kind, kafka_type, inner, optional = spec
    if kind == "primitive":
        return _primitive(buf, pos, end, kafka_type, flexible, name)
    if kind == "entity":
        if optional:
            pos = _need(pos, 1, end, name)
            if buf[pos - 1] == 0xFF:
                return pos
        return walk(inner, buf, pos, end)
    n, pos = _array_length(buf, pos, end, flexible, name)
    for _ in range(max(n, 0)):
        if kind == "entity_array":
            pos = walk(inner, buf, pos, end)
        else:
            pos = _primitive(buf, pos, end, kafka_type, flexible, name)
    return pos


def walk(schema: type, buf: bytes, pos: int, end: int) -> int:
    """The position after one `schema` struct at `pos`; MalformedRequest
    on a length that cannot fit."""
    regular, tagged = _plan(schema)
    flexible = schema.__flexible__
    for spec in regular:
        pos = _field(buf, pos, end, flexible, spec)
    if flexible:
        count, pos = _uvarint(buf, pos, end)
        if count > end - pos:
            raise MalformedRequest(f"{schema.__name__}: {count} tagged fields in {end - pos} bytes")
        for _ in range(count):
            tag, pos = _uvarint(buf, pos, end)
            size, pos = _uvarint(buf, pos, end)
            tag_end = _need(pos, size, end, f"{schema.__name__} tag {tag}")
            spec = tagged.get(tag)
            if spec is not None:
                _field(buf, pos, tag_end, flexible, spec)
            pos = tag_end
    return pos


def check_body(schema: type, frame: bytes, offset: int) -> None:
    walk(schema, frame, offset, len(frame))
