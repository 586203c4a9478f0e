"""Schema: typed messages round-trip and bad bodies are refused with a path."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rafka.netproto.errors import ErrorCode
from rafka.netproto.schema import InvalidMessage, Message, from_wire, lookup, register, to_wire


class Color(enum.IntEnum):
    RED = 1
    BLUE = 2


@register
@dataclass(frozen=True)
class SchemaTestEntry(Message):
    TYPE = "test.schema.Entry"
    term: int
    data: bytes


@register
@dataclass(frozen=True)
class SchemaTestAll(Message):
    TYPE = "test.schema.All"
    i: int
    s: str
    b: bytes
    flag: bool
    f: float
    opt: int | None
    entries: list[SchemaTestEntry]
    pair: tuple[int, str]
    seq: tuple[int, ...]
    by_name: dict[str, int]
    by_id: dict[int, SchemaTestEntry | None]
    color: Color
    later: SchemaTestLater
    note: str = "default"
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlainConfig:
    """A plain (non-Message) dataclass nested in a message."""

    voters: frozenset[int]
    learners: frozenset[int] = frozenset()


@register
@dataclass(frozen=True)
class SchemaTestLater(Message):
    """Defined after its user: exercises the lazy forward reference."""

    TYPE = "test.schema.Later"
    x: int
    config: PlainConfig | None = None


def sample() -> SchemaTestAll:
    return SchemaTestAll(
        i=-5, s="é", b=b"\x00\xff", flag=True, f=1.5, opt=None,
        entries=[SchemaTestEntry(1, b"a"), SchemaTestEntry(2, b"")],
        pair=(1, "x"), seq=(3, 4), by_name={"a": 1}, by_id={7: SchemaTestEntry(3, b"c"), 8: None},
        color=Color.BLUE, later=SchemaTestLater(9, PlainConfig(frozenset({3, 1, 2}))),
    )


def wire_round_trip(msg: Message) -> Message:
    packed = msgpack.packb(to_wire(msg), use_bin_type=True)
    body = msgpack.unpackb(packed, raw=False, strict_map_key=False)
    return from_wire(msg.TYPE, body)


def test_round_trip_through_msgpack_keeps_every_type():
    """Goal: every supported field type survives encode -> msgpack -> decode."""
    msg = sample()
    back = wire_round_trip(msg)
    assert back == msg
    assert type(back.color) is Color and type(back.seq) is tuple and type(back.pair) is tuple
    assert back.later.config.voters == frozenset({1, 2, 3}) and type(back.later.config.learners) is frozenset
    assert to_wire(msg)["later"]["config"]["voters"] == [1, 2, 3]


def test_defaults_fill_missing_optional_fields():
    """Goal: a field with a default may be absent (compatible addition)."""
    body = to_wire(sample())
    del body["note"], body["tags"]
    back = from_wire(SchemaTestAll.TYPE, body)
    assert back.note == "default" and back.tags == []


def test_int_on_wire_accepted_for_float():
    """Goal: msgpack may carry 2 for 2.0; a float field accepts it as float."""
    body = to_wire(sample()) | {"f": 2}
    back = from_wire(SchemaTestAll.TYPE, body)
    assert back.f == 2.0 and type(back.f) is float


@pytest.mark.parametrize(
    "mutate, path",
    [
        (lambda b: b.pop("i"), "SchemaTestAll.i: missing field"),
        (lambda b: b.update(extra=1), "unknown field"),
        (lambda b: b.update(i="1"), "SchemaTestAll.i: expected int"),
        (lambda b: b.update(i=True), "SchemaTestAll.i: expected int"),
        (lambda b: b.update(flag=1), "SchemaTestAll.flag: expected bool"),
        (lambda b: b.update(b="text"), "SchemaTestAll.b: expected bytes"),
        (lambda b: b.update(opt="x"), "SchemaTestAll.opt: expected int"),
        (lambda b: b["entries"][1].update(term="x"), "SchemaTestAll.entries[1].term"),
        (lambda b: b["entries"][0].pop("data"), "SchemaTestAll.entries[0].data: missing"),
        (lambda b: b.update(entries={"a": 1}), "expected list"),
        (lambda b: b.update(pair=[1, 2]), "SchemaTestAll.pair[1]: expected str"),
        (lambda b: b.update(pair=[1]), "SchemaTestAll.pair"),
        (lambda b: b.update(by_name={1: 1}), "expected str key"),
        (lambda b: b.update(by_id={"7": None}), "expected int key"),
        (lambda b: b.update(color=3), "SchemaTestAll.color: expected Color"),
        (lambda b: b.update(later=None), "SchemaTestAll.later: expected a map"),
        (lambda b: b["later"]["config"].update(voters=[1, "2"]), "SchemaTestAll.later.config.voters[1]"),
    ],
)
def test_bad_bodies_are_refused_with_a_path(mutate, path):
    """Goal: missing, extra and mistyped fields (also nested) raise
    InvalidMessage (INVALID_REQUEST) naming where the problem is."""
    body = to_wire(sample())
    mutate(body)
    with pytest.raises(InvalidMessage) as err:
        from_wire(SchemaTestAll.TYPE, body)
    assert err.value.code == ErrorCode.INVALID_REQUEST
    assert path in str(err.value)


def test_unknown_type_and_non_map_body():
    """Goal: an unregistered type name or a non-map body is InvalidMessage."""
    with pytest.raises(InvalidMessage, match="unknown message type"):
        from_wire("no.such.Type", {})
    with pytest.raises(InvalidMessage, match="unknown message type"):
        lookup(123)  # type: ignore[arg-type]
    with pytest.raises(InvalidMessage, match="expected a map"):
        from_wire(SchemaTestEntry.TYPE, [1, b"x"])


def test_to_wire_validates_the_sender():
    """Goal: a mistyped field is caught at encode time, before it is sent."""
    with pytest.raises(InvalidMessage, match="SchemaTestEntry.term: expected int"):
        to_wire(SchemaTestEntry("1", b""))  # type: ignore[arg-type]


def test_register_rejects_bad_declarations():
    """Goal: programmer errors in declarations fail at import time."""
    with pytest.raises(TypeError, match="already registered"):
        @register
        @dataclass(frozen=True)
        class Dup(Message):
            TYPE = SchemaTestEntry.TYPE
            x: int

    with pytest.raises(TypeError, match="unsupported field type"):
        @register
        @dataclass(frozen=True)
        class BadField(Message):
            TYPE = "test.schema.BadField"
            x: set[int]

    with pytest.raises(TypeError, match="non-empty TYPE"):
        @register
        @dataclass(frozen=True)
        class NoType(Message):
            x: int


@given(term=st.integers(min_value=-(2**63), max_value=2**64 - 1), data=st.binary(max_size=64))
def test_entry_round_trip_property(term, data):
    """Goal: any int64/uint64 term and any bytes survive the wire."""
    msg = SchemaTestEntry(term, data)
    assert wire_round_trip(msg) == msg


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.binary(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=4),
    max_leaves=20,
)


@given(body=json_like)
def test_from_wire_only_raises_invalid_message(body):
    """Goal: any decoded msgpack value as a body either validates or raises
    InvalidMessage -- never a crash inside the decoder."""
    try:
        msg = from_wire(SchemaTestAll.TYPE, body)
    except InvalidMessage:
        return
    assert isinstance(msg, SchemaTestAll)
