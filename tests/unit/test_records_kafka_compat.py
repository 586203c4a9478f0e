"""Byte-level compatibility with Kafka's RecordBatch v2, checked against
golden vectors (generated once by kafka-python and committed) and live
against kafka-python (a test-only dependency) in both directions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rafka.log.records import Record, build_batch, decode_batch

from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder  # a test dependency: missing fails

GOLDEN = json.loads((Path(__file__).parent / "golden" / "kafka_python_batches.json").read_text())
VECTORS = {v["name"]: v for v in GOLDEN["vectors"]}
TS = 1_700_000_000_000


def _unhex(x):
    return None if x is None else bytes.fromhex(x)


def test_hand_checked_vector():
    """Goal: the smallest batch, field by field, is exactly Kafka's layout."""
    data = build_batch([Record(b"key", b"value")], timestamp_ms=TS, partition_leader_epoch=0)
    expected = (
        "0000000000000000"  # base_offset 0
        "00000040"  # batch_length 64 = 76 - 12
        "00000000"  # partition_leader_epoch 0
        "02"  # magic
        "db5e9cdd"  # crc32c(attributes..end)
        "0000"  # attributes
        "00000000"  # last_offset_delta
        "0000018bcfe56800"  # base_timestamp 1700000000000
        "0000018bcfe56800"  # max_timestamp
        "ffffffffffffffff"  # producer_id -1
        "ffff"  # producer_epoch -1
        "ffffffff"  # base_sequence -1
        "00000001"  # record_count 1
        "1c"  # record length 14 (zigzag 28)
        "00"  # attributes
        "00"  # timestamp_delta 0
        "00"  # offset_delta 0
        "06" "6b6579"  # key length 3, "key"
        "0a" "76616c7565"  # value length 5, "value"
        "00"  # header count 0
    )
    assert data.hex() == expected == VECTORS["one_record"]["hex"]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_golden_vectors_decode(name):
    """Goal: kafka-python's committed batches decode to their recorded contents."""
    vector = VECTORS[name]
    expect = vector["expect"]
    header, recs = decode_batch(bytes.fromhex(vector["hex"]))
    assert header.compression == expect["compression"]
    assert (header.producer_id, header.producer_epoch, header.base_sequence) == (
        expect["producer_id"], expect["producer_epoch"], expect["base_sequence"])
    assert header.is_transactional == expect["is_transactional"]
    assert len(recs) == len(expect["records"])
    for rec, want in zip(recs, expect["records"]):
        assert rec.offset == want["offset"]
        assert rec.timestamp_ms == want["timestamp_ms"]
        assert rec.key == _unhex(want["key_hex"])
        assert rec.value == _unhex(want["value_hex"])
        assert list(rec.headers) == [(k, _unhex(v)) for k, v in want["headers"]]


@pytest.mark.parametrize("name", sorted(n for n, v in VECTORS.items() if not v["expect"]["compression"]))
def test_golden_vectors_rebuild_byte_for_byte(name):
    """Goal: our builder writes exactly kafka-python's bytes for uncompressed batches."""
    vector = VECTORS[name]
    expect = vector["expect"]
    recs = [
        Record(_unhex(r["key_hex"]), _unhex(r["value_hex"]),
               tuple((k, _unhex(v)) for k, v in r["headers"]), r["timestamp_ms"])
        for r in expect["records"]
    ]
    data = build_batch(
        recs, timestamp_ms=0, partition_leader_epoch=0,
        producer_id=expect["producer_id"], producer_epoch=expect["producer_epoch"],
        base_sequence=expect["base_sequence"], is_transactional=expect["is_transactional"],
    )
    assert data.hex() == vector["hex"]


nullable = st.none() | st.binary(max_size=200)
live_records = st.lists(
    st.tuples(nullable, nullable,
              st.lists(st.tuples(st.text(max_size=5), nullable), max_size=2),
              st.integers(TS - 1000, TS + 1000)),
    min_size=1, max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(live_records, st.sampled_from([0, 1]))
def test_kafka_python_batches_decode_with_ours(recs, compression):
    """Goal: batches built by kafka-python decode with our decoder."""
    builder = DefaultRecordBatchBuilder(2, compression, False, -1, -1, -1, 1 << 20)
    for i, (k, v, h, ts) in enumerate(recs):
        assert builder.append(i, ts, k, v, h) is not None
    header, decoded = decode_batch(bytes(builder.build()))
    assert header.record_count == len(recs)
    for i, ((k, v, h, ts), rec) in enumerate(zip(recs, decoded, strict=True)):
        assert (rec.offset, rec.timestamp_ms, rec.key, rec.value) == (i, ts, k, v)
        assert list(rec.headers) == [tuple(x) for x in h]


@settings(max_examples=40, deadline=None)
@given(live_records, st.sampled_from([0, 1]), st.integers(0, 2**40))
def test_our_batches_decode_with_kafka_python(recs, compression, base_offset):
    """Goal: batches we build pass kafka-python's CRC check and decode identically."""
    data = build_batch(
        [Record(k, v, tuple(h), ts) for k, v, h, ts in recs],
        base_offset=base_offset, timestamp_ms=TS, compression=compression,
    )
    batch = DefaultRecordBatch(bytearray(data))
    assert batch.validate_crc()
    assert batch.compression_type == compression
    theirs = list(batch)
    assert len(theirs) == len(recs)
    for i, ((k, v, h, ts), rec) in enumerate(zip(recs, theirs)):
        assert (rec.offset, rec.timestamp, rec.key, rec.value) == (base_offset + i, ts, k, v)
        assert [tuple(x) for x in rec.headers] == [tuple(x) for x in h]
