"""Typed messages: every payload on the wire is a registered ``Message``.

Why: bytes from the network are untrusted. Decoding into a typed, validated
dataclass at the edge means handlers never see a wrong-typed or missing
field, and a bad message is refused with one clear error (``InvalidMessage``,
code INVALID_REQUEST) instead of crashing deep inside a node.

Declaring a message::

    @register
    @dataclass(frozen=True)
    class Heartbeat(Message):
        TYPE = "raft.Heartbeat"     # unique wire name
        term: int
        leader_id: int | None
        entries: list[Entry] = ()   # nested Message, default => optional

Supported field types: ``int``, ``str``, ``bytes``, ``bool``, ``float``
(an int on the wire is accepted and converted), ``IntEnum`` subclasses (an
int on the wire), ``X | None`` / ``Optional[X]``, ``list[X]``,
``tuple[X, ...]``, ``tuple[X, Y]``, ``frozenset[X]`` (a sorted list on the
wire), ``dict[str, X]``, ``dict[int, X]`` and nested dataclasses (``Message``
subclasses, registered or not, or plain dataclasses; carried as their field
map; the declared type says which class). ``bool`` is never accepted for
``int``.

Wire form: ``to_wire(msg)`` returns ``{field_name: wire_value}`` (a msgpack-
ready dict; the envelope carries ``TYPE`` separately). ``from_wire(type_name,
body)`` validates and builds the message; it raises ``InvalidMessage`` on an
unknown type, a body that is not a map, a missing field (unless the dataclass
field has a default: that is how a field is added compatibly), an extra
field, or a mistyped value; the error names the path (``Vote.log[2].term``).
``to_wire`` validates too (a mistyped field is a sender bug, caught before it
goes out).

Speed: per-class converters are compiled once (lazily, on first use, so a
field may name a class defined later in its module) and cached. Each class
also gets a generated straight-line encoder and decoder (no per-field loop;
scalars checked inline), and lists convert their items in one comprehension;
whenever a fast path meets anything unusual (a wrong type, a missing or extra
field) it defers to the field-by-field converters, so errors, their paths
and results are exactly those of the general code. The class codec and its
generated code live in ``netproto.schema_codegen``; this module keeps the
public API, the registry and the per-type converters.
"""

from __future__ import annotations

import dataclasses
import enum
import keyword
import types
import typing
from typing import Any, ClassVar

from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.schema_codegen import Conv, _Bad, _Codec, _tname

__all__ = [
    "InvalidMessage",
    "Message",
    "from_wire",
    "lookup",
    "register",
    "registered_types",
    "to_wire",
]


class InvalidMessage(RafkaError):
    """A message failed schema validation (code INVALID_REQUEST)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INVALID_REQUEST, message)


class Message:
    """Base class of typed messages; subclasses are frozen dataclasses with a
    class attribute ``TYPE`` (the wire name, unique among registered types)."""

    __slots__ = ()
    TYPE: ClassVar[str] = ""


_REGISTRY: dict[str, type] = {}
_CODECS: dict[type, _Codec] = {}


def register(cls: type) -> type:
    """Class decorator: make ``cls`` decodable by its ``TYPE`` name.

    Raises TypeError for a class that is not a dataclass ``Message`` with its
    own non-empty ``TYPE``, an unsupported field type, or a ``TYPE`` already
    taken by another class (programmer errors, found at import time)."""
    if not (isinstance(cls, type) and issubclass(cls, Message)):
        raise TypeError(f"{cls!r} is not a Message subclass")
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} must be a dataclass")
    type_name = cls.__dict__.get("TYPE")
    if not isinstance(type_name, str) or not type_name:
        raise TypeError(f"{cls.__name__} needs its own non-empty TYPE")
    other = _REGISTRY.get(type_name)
    if other is not None and (other.__module__, other.__qualname__) != (cls.__module__, cls.__qualname__):
        raise TypeError(f"TYPE {type_name!r} already registered by {other.__qualname__}")
    _REGISTRY[type_name] = cls
    _CODECS.pop(cls, None)
    try:
        _codec(cls)
    except NameError:
        pass  # a forward reference; compiled on first use
    return cls


def lookup(type_name: str) -> type:
    """The class registered as ``type_name``; InvalidMessage if none."""
    cls = _REGISTRY.get(type_name) if type(type_name) is str else None
    if cls is None:
        raise InvalidMessage(f"unknown message type {type_name!r}")
    return cls


def registered_types() -> frozenset[str]:
    return frozenset(_REGISTRY)


def to_wire(msg: Message) -> dict:
    """The msgpack-ready field map of ``msg`` (validated)."""
    cls = type(msg)
    codec = _CODECS.get(cls) or _codec(cls)
    try:
        return codec.encode(msg)
    except _Bad as bad:
        raise InvalidMessage(f"{cls.__name__}{bad.path}: {bad.what}") from None


def from_wire(type_name: str, body: Any) -> Message:
    """Validate ``body`` against the class registered as ``type_name``."""
    cls = lookup(type_name)
    codec = _CODECS.get(cls) or _codec(cls)
    try:
        return codec.decode(body)
    except _Bad as bad:
        raise InvalidMessage(f"{cls.__name__}{bad.path}: {bad.what}") from None


# ---------------------------------------------------------------- compiling


def _codec(cls: type) -> _Codec:
    codec = _CODECS.get(cls)
    if codec is not None:
        return codec
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = []
    kinds: list[Any] = []
    required = set()
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        enc, dec = _compile(hints[f.name], f"{cls.__name__}.{f.name}")
        fields.append((f.name, enc, dec))
        tp = hints[f.name]
        fast = tp in (int, str, bool, bytes) or (isinstance(tp, type) and issubclass(tp, enum.IntEnum))
        kinds.append(tp if fast else None)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.add(f.name)
    generate = all(f.name.isidentifier() and not keyword.iskeyword(f.name) for f in dataclasses.fields(cls))
    codec = _Codec(cls, fields, frozenset(required), kinds if generate else None)
    _CODECS[cls] = codec
    return codec


def _scalar(kind: type) -> tuple[Conv, Conv]:
    def check(v: Any) -> Any:
        if type(v) is not kind:
            raise _Bad(f"expected {kind.__name__}, got {_tname(v)}")
        return v

    return check, check


def _int_enc(v: Any) -> Any:
    if isinstance(v, int) and type(v) is not bool:
        return int(v)
    raise _Bad(f"expected int, got {_tname(v)}")


def _int_dec(v: Any) -> Any:
    if type(v) is not int:
        raise _Bad(f"expected int, got {_tname(v)}")
    return v


def _float_conv(v: Any) -> Any:
    t = type(v)
    if t is float:
        return v
    if t is int:
        return float(v)
    raise _Bad(f"expected float, got {_tname(v)}")


def _bytes_enc(v: Any) -> Any:
    if type(v) is bytes:
        return v
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    raise _Bad(f"expected bytes, got {_tname(v)}")


def _compile(tp: Any, where: str) -> tuple[Conv, Conv]:
    if tp is int:
        return _int_enc, _int_dec
    if tp is str or tp is bool:
        return _scalar(tp)
    if tp is bytes:
        return _bytes_enc, _scalar(bytes)[1]
    if tp is float:
        return _float_conv, _float_conv
    if isinstance(tp, type) and issubclass(tp, enum.IntEnum):
        return _enum(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _nested(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return _optional(*_compile(rest[0], where))
    elif origin is list and len(args) == 1:
        return _list(*_compile(args[0], where))
    elif origin is frozenset and len(args) == 1:
        return _frozenset(*_compile(args[0], where))
    elif origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _tuple_var(*_compile(args[0], where))
    elif origin is tuple and args and Ellipsis not in args:
        return _tuple_fixed([_compile(a, where) for a in args])
    elif origin is dict and len(args) == 2 and args[0] in (str, int):
        return _dict(args[0], *_compile(args[1], where))
    raise TypeError(f"{where}: unsupported field type {tp!r}")


def _enum(cls: type) -> tuple[Conv, Conv]:
    def enc(v: Any) -> Any:
        if isinstance(v, int) and type(v) is not bool:
            try:
                return int(cls(v))
            except ValueError:
                pass
        raise _Bad(f"expected {cls.__name__}, got {v!r}")

    def dec(v: Any) -> Any:
        if type(v) is int:
            try:
                return cls(v)
            except ValueError:
                pass
        raise _Bad(f"expected {cls.__name__}, got {v!r}")

    return enc, dec


def _nested(cls: type) -> tuple[Conv, Conv]:
    def enc(v: Any) -> Any:
        if type(v) is not cls:
            raise _Bad(f"expected {cls.__name__}, got {_tname(v)}")
        codec = _CODECS.get(cls) or _codec(cls)
        return codec.encode(v)

    def dec(v: Any) -> Any:
        codec = _CODECS.get(cls) or _codec(cls)
        return codec.decode(v)

    return enc, dec


def _optional(enc: Conv, dec: Conv) -> tuple[Conv, Conv]:
    def oenc(v: Any) -> Any:
        return None if v is None else enc(v)

    def odec(v: Any) -> Any:
        return None if v is None else dec(v)

    return oenc, odec


def _each(conv: Conv, items: Any) -> list:
    out = []
    for i, item in enumerate(items):
        try:
            out.append(conv(item))
        except _Bad as bad:
            raise _Bad(bad.what, f"[{i}]{bad.path}") from None
    return out


def _list(enc: Conv, dec: Conv) -> tuple[Conv, Conv]:
    # One comprehension for the common all-valid case; _each again (with the
    # item's index in the path) only to report a bad item.
    def lenc(v: Any) -> Any:
        if type(v) not in (list, tuple):
            raise _Bad(f"expected list, got {_tname(v)}")
        try:
            return [enc(item) for item in v]
        except _Bad:
            return _each(enc, v)

    def ldec(v: Any) -> Any:
        if type(v) is not list:
            raise _Bad(f"expected list, got {_tname(v)}")
        try:
            return [dec(item) for item in v]
        except _Bad:
            return _each(dec, v)

    return lenc, ldec


def _frozenset(enc: Conv, dec: Conv) -> tuple[Conv, Conv]:
    lenc, ldec = _list(enc, dec)

    def fenc(v: Any) -> Any:
        if type(v) not in (set, frozenset):
            raise _Bad(f"expected frozenset, got {_tname(v)}")
        try:
            items = sorted(v)  # a stable wire form
        except TypeError:
            items = list(v)
        return lenc(items)

    def fdec(v: Any) -> Any:
        try:
            return frozenset(ldec(v))
        except TypeError:  # unhashable items
            raise _Bad("items are not hashable") from None

    return fenc, fdec


def _tuple_var(enc: Conv, dec: Conv) -> tuple[Conv, Conv]:
    lenc, ldec = _list(enc, dec)
    return lenc, lambda v: tuple(ldec(v))


def _tuple_fixed(convs: list[tuple[Conv, Conv]]) -> tuple[Conv, Conv]:
    n = len(convs)

    def run(v: Any, side: int, allowed: tuple) -> list:
        if type(v) not in allowed or len(v) != n:
            raise _Bad(f"expected a sequence of {n}, got {_tname(v)}")
        out = []
        for i, (item, conv) in enumerate(zip(v, convs)):
            try:
                out.append(conv[side](item))
            except _Bad as bad:
                raise _Bad(bad.what, f"[{i}]{bad.path}") from None
        return out

    return (lambda v: run(v, 0, (list, tuple))), (lambda v: tuple(run(v, 1, (list,))))


def _dict(key_type: type, enc: Conv, dec: Conv) -> tuple[Conv, Conv]:
    def run(v: Any, conv: Conv) -> dict:
        if type(v) is not dict:
            raise _Bad(f"expected map, got {_tname(v)}")
        out = {}
        for k, item in v.items():
            if type(k) is not key_type:
                raise _Bad(f"expected {key_type.__name__} key, got {_tname(k)}")
            try:
                out[k] = conv(item)
            except _Bad as bad:
                raise _Bad(bad.what, f"[{k!r}]{bad.path}") from None
        return out

    return (lambda v: run(v, enc)), (lambda v: run(v, dec))
