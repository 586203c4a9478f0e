"""Schema fast paths (generated per-class encoders/decoders, one-pass list
conversion) give exactly the results and errors of the field-by-field
converters, for valid and invalid messages alike."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rafka.netproto.schema import InvalidMessage, Message, _codec, from_wire, register, to_wire


class Kind(enum.IntEnum):
    ZERO = 0  # falsy: must still decode to the member
    ONE = 1


@register
@dataclass(frozen=True, slots=True)
class FastItem(Message):
    TYPE = "test.fast.Item"
    term: int
    kind: Kind
    data: bytes
    note: str = ""
    flag: bool = False


@register
@dataclass(frozen=True)
class FastBatch(Message):
    TYPE = "test.fast.Batch"
    src: int
    items: list[FastItem] = field(default_factory=list)
    commit: int | None = None


def _outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except InvalidMessage as exc:
        return ("error", exc.message)


def _slow_from_wire(type_name, body):
    """The reference: field-by-field decoding all the way down."""
    cls = {FastItem.TYPE: FastItem, FastBatch.TYPE: FastBatch}[type_name]
    codec = _codec(cls)
    item_codec = _codec(FastItem)
    fast = (codec.decode, item_codec.decode)
    codec.decode, item_codec.decode = codec.slow_decode, item_codec.slow_decode
    try:
        return from_wire(type_name, body)
    finally:
        codec.decode, item_codec.decode = fast


def test_valid_messages_round_trip_and_enum_zero_is_a_member():
    """Goal: a valid batch encodes to plain wire values and decodes back
    equal, with IntEnum fields (even the falsy 0) decoded to members."""
    msg = FastBatch(1, [FastItem(3, Kind.ZERO, b"a", "n", True), FastItem(4, Kind.ONE, b"")], commit=2)
    wire = to_wire(msg)
    assert wire["items"][0] == {"term": 3, "kind": 0, "data": b"a", "note": "n", "flag": True}
    assert type(wire["items"][0]["kind"]) is int
    back = from_wire(FastBatch.TYPE, wire)
    assert back == msg
    assert back.items[0].kind is Kind.ZERO


def test_bad_sender_fields_report_the_same_path():
    """Goal: to_wire of a mistyped nested field names the same path as the
    general encoder (the item's index and field)."""
    bad = FastBatch(1, [FastItem(1, Kind.ONE, b"x"), FastItem(2, Kind.ONE, "not bytes")])
    with pytest.raises(InvalidMessage) as err:
        to_wire(bad)
    assert err.value.message == "FastBatch.items[1].data: expected bytes, got str"
    with pytest.raises(InvalidMessage) as err:
        to_wire(FastItem(True, Kind.ONE, b""))
    assert err.value.message == "FastItem.term: expected int, got bool"


wire_value = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=3), st.binary(max_size=3), st.floats(),
    st.lists(st.integers(0, 2), max_size=2),
)
item_body = st.dictionaries(
    st.sampled_from(["term", "kind", "data", "note", "flag", "extra"]), wire_value, max_size=6
)


@given(items=st.lists(item_body, max_size=4), src=wire_value, drop_src=st.booleans())
def test_fast_decode_matches_the_field_by_field_decoder(items, src, drop_src):
    """Goal: for arbitrary (mostly invalid) bodies, from_wire returns the
    same message or raises the same error text as the general decoder."""
    body = {"items": items}
    if not drop_src:
        body["src"] = src
    assert _outcome(from_wire, FastBatch.TYPE, body) == _outcome(_slow_from_wire, FastBatch.TYPE, body)
    for item in items:
        assert _outcome(from_wire, FastItem.TYPE, item) == _outcome(_slow_from_wire, FastItem.TYPE, item)
