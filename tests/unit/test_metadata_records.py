"""Metadata records: typed, versioned msgpack encoding that never skips."""

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rafka.broker.metadata import records as r

ints = st.integers(min_value=-(2**31), max_value=2**31)
small = st.integers(min_value=0, max_value=10_000)
names = st.text(min_size=1, max_size=20)
id_lists = st.lists(small, max_size=5).map(tuple)

record_strategy = st.one_of(
    st.builds(r.RegisterBrokerRecord, small, names, small, names, small, st.none() | names, st.booleans()),
    st.builds(r.TopicRecord, names, names),
    st.builds(r.PartitionRecord, names, small, id_lists, id_lists, st.none() | small, small, small),
    st.builds(r.ConfigRecord, names, names, st.none() | names),
    st.builds(r.PartitionChangeRecord, names, small, st.integers(-2, 100), st.none() | id_lists,
              st.none() | id_lists),
    st.builds(r.FenceBrokerRecord, small, small),
    st.builds(r.UnfenceBrokerRecord, small, small),
    st.builds(r.RemoveTopicRecord, names),
    st.builds(r.BrokerShutdownRecord, small, small),
)


@given(record_strategy)
def test_every_record_round_trips(rec):
    """Goal: decode(encode(x)) == x for every record type and field value."""
    assert r.decode_record(r.encode_record(rec)) == rec


@given(st.lists(record_strategy, max_size=10))
def test_batches_round_trip_in_order(recs):
    """Goal: a batch of records decodes to the same records in the same order."""
    assert r.decode_records(r.encode_records(recs)) == recs


def test_wire_form_is_type_version_then_fields():
    """Goal: the documented wire form [type_id, version, fields...] holds,
    with KRaft's type id for PartitionRecord."""
    rec = r.PartitionRecord("tid", 2, (1, 2), (1,), 1, 3, 4)
    assert msgpack.unpackb(r.encode_record(rec)) == [3, 0, "tid", 2, [1, 2], [1], 1, 3, 4]


def test_unknown_type_raises_loudly():
    """Goal: an unknown record type is an error, never skipped."""
    with pytest.raises(r.UnknownRecordError):
        r.decode_record(msgpack.packb([99, 0, "x"]))
    with pytest.raises(r.UnknownRecordError):
        r.decode_records(msgpack.packb([[2, 0, "t", "id"], [99, 0]]))


def test_unknown_version_raises_loudly():
    """Goal: a newer version of a known record is refused, not misread."""
    with pytest.raises(r.UnknownRecordError, match="version"):
        r.decode_record(msgpack.packb([2, 1, "t", "id"]))


@pytest.mark.parametrize(
    "row",
    [
        [2, 0, "only-one-field"],
        [2, 0, "t", 5],  # topic_id must be a string
        [3, 0, "t", 0, [1], [1], True, 0, 0],  # bool is not an int leader
        [3, 0, "t", 0, ["a"], [1], 1, 0, 0],
        "not-an-array",
        [],
    ],
)
def test_malformed_records_raise_corrupt(row):
    """Goal: wrong field counts or types are refused with a typed error."""
    with pytest.raises(r.CorruptRecordError):
        r.decode_record(msgpack.packb(row))


def test_garbage_bytes_raise_corrupt():
    """Goal: bytes that are not msgpack raise CorruptRecordError, not a
    msgpack-internal exception."""
    with pytest.raises(r.CorruptRecordError):
        r.decode_record(b"\xc1\xc1\xc1")
    with pytest.raises(r.CorruptRecordError):
        r.decode_records(msgpack.packb({"a": 1}))


def test_json_view_names_the_type():
    """Goal: dump-log's JSON view carries the record type and list fields."""
    out = r.record_to_json(r.PartitionChangeRecord("tid", 1, leader=2, isr=(2, 3)))
    assert out == {"type": "PartitionChangeRecord", "version": 0, "topic_id": "tid",
                   "partition": 1, "leader": 2, "isr": [2, 3], "replicas": None}
