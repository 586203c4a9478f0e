"""Framing: length-prefixed frames survive any split and refuse bad sizes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rafka.netproto.errors import ErrorCode
from rafka.netproto.framing import FRAME_HEADER_BYTES, FrameDecoder, FrameError, encode_frame


def test_round_trip_single_frame():
    """Goal: one encoded frame decodes to exactly its payload."""
    dec = FrameDecoder(1024)
    assert dec.feed(encode_frame(b"hello", 1024)) == [b"hello"]
    assert dec.buffered_bytes == 0
    assert not dec.has_partial
    dec.eof()  # clean end: no error


def test_empty_payload_is_a_frame():
    """Goal: a zero-length payload is a valid (empty) frame, not a stall."""
    dec = FrameDecoder(16)
    assert dec.feed(encode_frame(b"") + encode_frame(b"x")) == [b"", b"x"]


class _PiecesEarly(FrameDecoder):
    """Collects any payload missing more than 8 bytes as pieces, so small
    examples take the large-frame path."""

    PIECES_FROM_BYTES = 8


@pytest.mark.parametrize("decoder", [FrameDecoder, _PiecesEarly])
@settings(max_examples=200, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=300), max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=20),
)
def test_round_trip_any_split(decoder, payloads, cuts):
    """Goal: frames decode identically however the byte stream is split,
    also through the path of large frames collected as pieces."""
    stream = b"".join(encode_frame(p, 300) for p in payloads)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    dec = decoder(300)
    out: list[bytes] = []
    for a, b in zip(points, points[1:]):
        out += dec.feed(stream[a:b])
        assert dec.buffered_bytes < FRAME_HEADER_BYTES + 300
    assert out == payloads
    dec.eof()


def test_large_frame_truncated_in_pieces_is_reported():
    """Goal: a stream ending inside a frame being collected as pieces is
    CORRUPT_MESSAGE at eof, naming the bytes still missing."""
    dec = _PiecesEarly(100)
    frame = encode_frame(b"x" * 60, 100)
    assert dec.feed(frame[:20]) == [] and dec.feed(frame[20:30]) == []
    with pytest.raises(FrameError) as err:
        dec.eof()
    assert err.value.code == ErrorCode.CORRUPT_MESSAGE
    assert "34 bytes missing" in err.value.message


def test_oversized_frame_refused_from_header_alone():
    """Goal: a header announcing a too-big frame fails before any payload is
    buffered, and the decoder stays failed (framing is lost)."""
    dec = FrameDecoder(100)
    with pytest.raises(FrameError) as err:
        dec.feed(struct.pack(">I", 101))
    assert err.value.code == ErrorCode.MESSAGE_TOO_LARGE
    with pytest.raises(FrameError):
        dec.feed(encode_frame(b"ok"))


def test_encode_refuses_oversized_payload():
    """Goal: the sender refuses a payload the receiver would refuse."""
    with pytest.raises(FrameError) as err:
        encode_frame(b"x" * 11, 10)
    assert err.value.code == ErrorCode.MESSAGE_TOO_LARGE


@pytest.mark.parametrize("cut", [1, 3, 4, 7])
def test_truncated_frame_detected_at_eof(cut):
    """Goal: a stream ending inside a header or payload is reported as
    CORRUPT_MESSAGE at eof, not silently dropped."""
    data = encode_frame(b"payload", 100)[:cut]
    dec = FrameDecoder(100)
    assert dec.feed(data) == []
    assert dec.has_partial
    with pytest.raises(FrameError) as err:
        dec.eof()
    assert err.value.code == ErrorCode.CORRUPT_MESSAGE


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_envelope_decoder_never_crashes_on_garbage(data):
    """Goal: any bytes decode to a well-formed envelope or raise exactly
    CorruptEnvelope (CORRUPT_MESSAGE) -- never another exception."""
    from rafka.netproto.envelope import CorruptEnvelope, decode_envelope
    from rafka.netproto.limits import NetLimits

    try:
        kind, corr, a, b = decode_envelope(data, NetLimits())
    except CorruptEnvelope as err:
        assert err.code == ErrorCode.CORRUPT_MESSAGE
    else:
        assert kind in (0, 1, 2, 3) and 0 <= corr < 2**31


def test_envelope_decoder_enforces_msgpack_limits():
    """Goal: a small frame cannot expand past the msgpack limits (a huge
    array header is refused, not allocated)."""
    import msgpack

    from rafka.netproto.envelope import CorruptEnvelope, decode_envelope
    from rafka.netproto.limits import NetLimits

    limits = NetLimits(msgpack_array_len_max=10)
    payload = msgpack.packb([0, 1, "t", list(range(11))])
    with pytest.raises(CorruptEnvelope):
        decode_envelope(payload, limits)
    assert decode_envelope(msgpack.packb([0, 1, "t", list(range(10))]), limits)[3] == list(range(10))
