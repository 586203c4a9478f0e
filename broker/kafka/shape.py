"""Fit version-agnostic plain data onto one version's kio entity.

Why: each Kafka API has many versions, and kio generates one entity class
per version (fields come and go). Handlers build a plain dict tree with
the newest version's field names; `fit` keeps what the target version has,
fills what it lacks with the schema default (or Kafka's implicit default:
0, "", empty array, null for nullable), and converts the few kio types
that are not plain values (error codes, durations, uuids).

`error_body(cls, code, message)` builds a response of any API/version with
`code` in every top-level error field: the answer to a request whose
version kio knows but we do not serve, or one a handler refuses whole.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from dataclasses import MISSING, fields
from typing import Any

from kio.schema.errors import ErrorCode
from kio.serial._introspect import EntityField, EntityTupleField, PrimitiveTupleField, classify_field, is_optional

from rafka.broker.kafka.errors import kafka_error

_ZERO_UUID = uuid.UUID(int=0)
_EPOCH = datetime.datetime.fromtimestamp(0, tz=datetime.timezone.utc)


@functools.cache
def _plan(cls: type) -> tuple:
    """(name, kafka_type, classification, optional, default) per field."""
    out = []
    for f in fields(cls):
        cls_info = classify_field(f)
        kafka_type = f.metadata.get("kafka_type")
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = MISSING
        out.append((f.name, kafka_type, cls_info, is_optional(f), default))
    return tuple(out)


def _implicit(kafka_type: str | None, cls_info, optional: bool) -> Any:
    if cls_info.is_array:
        return None if optional else ()
    if isinstance(cls_info, EntityField):
        return None if optional else fit(cls_info.type_, {})
    if optional:
        return None
    if kafka_type == "error_code":
        return ErrorCode.none
    if kafka_type in ("timedelta_i32", "timedelta_i64"):
        return datetime.timedelta(0)
    if kafka_type == "datetime_i64":
        return _EPOCH
    if kafka_type == "string":
        return ""
    if kafka_type in ("bytes", "records"):
        return b""
    if kafka_type == "bool":
        return False
    if kafka_type == "uuid":
        return _ZERO_UUID
    if kafka_type == "float64":
        return 0.0
    return 0


def _convert(kafka_type: str | None, cls_info, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(cls_info, EntityTupleField):
        return tuple(fit(cls_info.type_, item) for item in value)
    if isinstance(cls_info, EntityField):
        return fit(cls_info.type_, value)
    if isinstance(cls_info, PrimitiveTupleField):
        return tuple(value)
    if kafka_type == "error_code":
        return value if isinstance(value, ErrorCode) else kafka_error(int(value))
    if kafka_type in ("timedelta_i32", "timedelta_i64") and not isinstance(value, datetime.timedelta):
        return datetime.timedelta(milliseconds=int(value))
    if kafka_type == "datetime_i64" and not isinstance(value, datetime.datetime):
        return _EPOCH + datetime.timedelta(milliseconds=int(value))
    return value


def fit(cls: type, data: Any) -> Any:
    """An instance of kio entity `cls` from `data` (a dict, or already an
    instance of `cls`). Keys `cls` does not have are ignored."""
    if isinstance(data, cls):
        return data
    kwargs = {}
    for name, kafka_type, cls_info, optional, default in _plan(cls):
        if name in data:
            kwargs[name] = _convert(kafka_type, cls_info, data[name])
        elif default is not MISSING:
            kwargs[name] = default
        else:
            kwargs[name] = _implicit(kafka_type, cls_info, optional)
    return cls(**kwargs)


def error_body(cls: type, code: ErrorCode, message: str | None = None) -> Any:
    """A response entity of `cls` carrying `code` in its top-level error
    field(s) (and `message` where the version has an error message)."""
    data: dict[str, Any] = {}
    for name, kafka_type, _cls_info, _optional, _default in _plan(cls):
        if kafka_type == "error_code":
            data[name] = code
        elif name == "error_message" and message is not None:
            data[name] = message
    return fit(cls, data)


def get(entity: Any, name: str, default: Any = None) -> Any:
    """A request field that some versions lack: `default` there."""
    return getattr(entity, name, default)
