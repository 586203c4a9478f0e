"""Goal: request headers v0/v1/v2 decode as Kafka defines them, response
headers follow (api key, version) — ApiVersions always v0 — and frames are
cut and bounded before any body is buffered."""

from __future__ import annotations

import struct

import pytest

from rafka.broker.kafka.errors import MalformedRequest
from rafka.broker.kafka.frames import FrameBuffer
from rafka.broker.kafka.header import (
    RequestHeader,
    encode_request_header,
    encode_response_header,
    parse_request_header,
)
from rafka.broker.kafka.schemas import request_header_version, response_header_version


def test_header_versions_follow_flexibility():
    assert request_header_version(3, 8) == 1 and request_header_version(3, 9) == 2
    assert request_header_version(18, 2) == 1 and request_header_version(18, 3) == 2
    assert request_header_version(7, 0) == 0
    assert response_header_version(3, 8) == 0 and response_header_version(3, 9) == 1
    # ApiVersions' response header is v0 even for its flexible versions.
    assert response_header_version(18, 3) == 0 and response_header_version(18, 4) == 0
    # A version kio does not know reads as v1 (only to refuse it).
    assert request_header_version(3, 99) == 1


@pytest.mark.parametrize("api_key,version,hv", [(3, 1, 1), (3, 12, 2), (7, 0, 0)])
def test_request_header_round_trip(api_key, version, hv):
    h = RequestHeader(api_key, version, 42, None if hv == 0 else "client-ü", hv)
    raw = encode_request_header(h) + b"BODY"
    parsed, pos = parse_request_header(raw)
    assert parsed == h
    assert raw[pos:] == b"BODY"


def test_v2_header_skips_tagged_fields():
    raw = struct.pack(">hhih", 3, 12, 9, 1) + b"c" + b"\x02" + b"\x00\x01X" + b"\x05\x02YZ" + b"B"
    h, pos = parse_request_header(raw)
    assert (h.correlation_id, h.client_id, raw[pos:]) == (9, "c", b"B")


@pytest.mark.parametrize("raw", [
    b"\x00\x03\x00",                                   # shorter than the fixed part
    struct.pack(">hhih", 3, 1, 1, 10) + b"abc",        # client id past the end
    struct.pack(">hhih", 3, 1, 1, -7),                 # bad client id length
    struct.pack(">hhih", 3, 12, 1, -1) + b"\xff\xff\xff\xff\xff\xff",  # varint too long
    struct.pack(">hhih", 3, 12, 1, -1) + b"\x01\x00\x09ab",            # tag past the end
    struct.pack(">hhi", -1, 0, 1),                     # negative api key
])
def test_malformed_headers_raise(raw):
    with pytest.raises(MalformedRequest):
        parse_request_header(raw)


def test_response_header_encoding():
    assert encode_response_header(5, 0) == b"\x00\x00\x00\x05"
    assert encode_response_header(5, 1) == b"\x00\x00\x00\x05\x00"


def test_frames_are_cut_across_feeds_and_bounded():
    fb = FrameBuffer(frame_bytes_max=100)
    one = struct.pack(">i", 8) + b"A" * 8
    two = struct.pack(">i", 10) + b"B" * 10
    data = one + two
    assert fb.feed(data[:3]) == []
    assert fb.feed(data[3:14]) == [b"A" * 8]
    assert fb.feed(data[14:]) == [b"B" * 10]
    assert fb.empty
    with pytest.raises(MalformedRequest):
        FrameBuffer(100).feed(struct.pack(">i", 101))
    with pytest.raises(MalformedRequest):
        FrameBuffer(100).feed(struct.pack(">i", -5))
    with pytest.raises(MalformedRequest):
        FrameBuffer(100).feed(struct.pack(">i", 3))


def test_large_frames_cut_across_many_small_reads():
    """Goal: a frame far larger than one read (collected as pieces) comes
    out whole and in order with the small frames around it, whatever the
    read size, and a stream ending inside it is not empty."""
    big = bytes(range(256)) * 1000  # 256,000 bytes
    small = b"S" * 9
    data = b"".join(struct.pack(">i", len(p)) + p for p in (small, big, small, big))
    for step in (1000, 7001, 65536, 300_000):
        fb = FrameBuffer(frame_bytes_max=1 << 20)
        out = []
        for i in range(0, len(data), step):
            out += fb.feed(data[i:i + step])
            if fb.pending_size == len(big):
                assert not fb.empty and fb.buffered > 0
        assert out == [small, big, small, big]
        assert fb.empty and fb.buffered == 0
