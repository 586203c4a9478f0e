"""Records inside RecordBatch v2: round trips, typed errors on bad bytes."""

from __future__ import annotations

import struct

import crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rafka.log.batch import parse_header
from rafka.log.compression import compress, decompress
from rafka.log.errors import CorruptBatchError, UnsupportedCodecError
from rafka.log.records import Record, build_batch, decode_batch

TS = 1_700_000_000_000

nullable_bytes = st.none() | st.binary(max_size=64)
headers = st.lists(st.tuples(st.text(max_size=8), nullable_bytes), max_size=3).map(tuple)
records = st.builds(
    Record,
    key=nullable_bytes,
    value=nullable_bytes,
    headers=headers,
    timestamp_ms=st.none() | st.integers(TS - 10**6, TS + 10**6),
)


def refresh_crc(buf: bytearray) -> None:
    struct.pack_into(">I", buf, 17, crc32c.crc32c(bytes(buf[21:])))


@settings(max_examples=150)
@given(
    st.lists(records, min_size=1, max_size=8),
    st.sampled_from([0, 1]),
    st.integers(0, 2**40),
    st.integers(-1, 2**31 - 1),
)
def test_round_trip(recs, compression, base_offset, epoch):
    """Goal: whatever we build decodes to the same records at consecutive offsets."""
    data = build_batch(recs, base_offset=base_offset, partition_leader_epoch=epoch,
                       timestamp_ms=TS, compression=compression)
    header, decoded = decode_batch(data)
    assert header.record_count == len(recs) and header.compression == compression
    assert header.partition_leader_epoch == epoch
    for i, (rec, dec) in enumerate(zip(recs, decoded, strict=True)):
        assert dec.offset == base_offset + i
        assert dec.timestamp_ms == (TS if rec.timestamp_ms is None else rec.timestamp_ms)
        assert (dec.key, dec.value, dec.headers) == (rec.key, rec.value, tuple(rec.headers))
    assert header.max_timestamp == max(d.timestamp_ms for d in decoded)


def test_decode_at_position():
    """Goal: decode_batch reads the batch at `pos`, not at 0."""
    first = build_batch([Record(b"a", b"1")], timestamp_ms=TS)
    second = build_batch([Record(b"b", b"2")], base_offset=1, timestamp_ms=TS)
    header, recs = decode_batch(first + second, len(first))
    assert (header.base_offset, recs[0].key) == (1, b"b")


def test_gzip_batch_is_smaller_and_deterministic():
    """Goal: gzip actually compresses, and the same records give the same bytes."""
    recs = [Record(b"k", b"hello world " * 50)]
    plain = build_batch(recs, timestamp_ms=TS)
    gz = build_batch(recs, timestamp_ms=TS, compression=1)
    assert len(gz) < len(plain)
    assert gz == build_batch(recs, timestamp_ms=TS, compression=1)


def test_empty_batch_refused():
    """Goal: a batch must hold a record (record_count >= 1 is an invariant)."""
    with pytest.raises(ValueError):
        build_batch([], timestamp_ms=TS)


@pytest.mark.parametrize("codec, name", [(2, "snappy"), (3, "lz4"), (4, "zstd")])
def test_other_codecs_unsupported_but_storable(codec, name):
    """Goal: snappy/lz4/zstd batches pass the header path but decoding names the codec."""
    buf = bytearray(build_batch([Record(b"k", b"v")], timestamp_ms=TS))
    struct.pack_into(">h", buf, 21, codec)
    refresh_crc(buf)
    assert parse_header(buf).compression == codec
    with pytest.raises(UnsupportedCodecError, match=name):
        decode_batch(buf)
    with pytest.raises(UnsupportedCodecError, match=name):
        build_batch([Record(b"k", b"v")], timestamp_ms=TS, compression=codec)


def _with_count(count: int, last_delta: int) -> bytearray:
    buf = bytearray(build_batch([Record(b"k", b"v"), Record(b"k2", b"v2")], timestamp_ms=TS))
    struct.pack_into(">i", buf, 23, last_delta)
    struct.pack_into(">i", buf, 57, count)
    refresh_crc(buf)
    return buf


def test_record_count_higher_than_records():
    """Goal: a header claiming more records than the body holds is corrupt."""
    with pytest.raises(CorruptBatchError):
        decode_batch(_with_count(3, 2))


def test_record_count_lower_than_records():
    """Goal: bytes left after record_count records mean the count is wrong."""
    with pytest.raises(CorruptBatchError, match="record_count 1 does not match"):
        decode_batch(_with_count(1, 0))


def test_bad_crc_raises_on_decode():
    """Goal: decode_batch validates the CRC before trusting records."""
    buf = bytearray(build_batch([Record(b"k", b"v")], timestamp_ms=TS))
    buf[-2] ^= 0x01
    with pytest.raises(CorruptBatchError, match="CRC"):
        decode_batch(buf)


def test_truncated_batch_raises():
    """Goal: a torn batch is a typed error."""
    data = build_batch([Record(b"k", b"v")], timestamp_ms=TS)
    for cut in (10, 61, len(data) - 1):
        with pytest.raises(CorruptBatchError):
            decode_batch(data[:cut])


@settings(max_examples=200)
@given(st.binary(min_size=1, max_size=40))
def test_garbage_records_never_crash(garbage):
    """Goal: any bytes in a CRC-valid batch give records or CorruptBatchError, nothing else."""
    buf = bytearray(build_batch([Record(b"k", b"v")], timestamp_ms=TS))
    buf[61:] = garbage
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    refresh_crc(buf)
    try:
        decode_batch(buf)
    except CorruptBatchError:
        pass


def test_record_length_mismatch():
    """Goal: a record whose length disagrees with its fields is corrupt."""
    buf = bytearray(build_batch([Record(b"k", b"v")], timestamp_ms=TS))
    buf[61] += 2  # record length varint: claims 1 more byte (zigzag)
    buf += b"\x00"
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    refresh_crc(buf)
    with pytest.raises(CorruptBatchError):
        decode_batch(buf)


def test_gzip_bomb_bounded():
    """Goal: decompression stops at decompressed_bytes_max."""
    data = build_batch([Record(None, b"\x00" * 100_000)], timestamp_ms=TS, compression=1)
    with pytest.raises(CorruptBatchError, match="exceed"):
        decode_batch(data, decompressed_bytes_max=10_000)
    assert decode_batch(data)[1][0].value == b"\x00" * 100_000


def test_bad_gzip_raises():
    """Goal: garbage or truncated gzip is CorruptBatchError."""
    with pytest.raises(CorruptBatchError):
        decompress(1, b"not gzip at all")
    with pytest.raises(CorruptBatchError, match="truncated"):
        decompress(1, compress(1, b"abc" * 100)[:-5])


def test_concatenated_gzip_members():
    """Goal: a stream of several gzip members decodes to their concatenation."""
    assert decompress(1, compress(1, b"abc") + compress(1, b"def")) == b"abcdef"
