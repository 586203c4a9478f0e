"""Goal: no request body can make the decoder allocate beyond its frame —
hostile array lengths are refused before kio sees them (kio's native
decoder reserves an array's declared length up front, and a failed huge
allocation aborts the process) — and any mutation of a valid request
either decodes and is answered or is refused as malformed; nothing else
escapes the dispatcher."""

from __future__ import annotations

import struct

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from rafka.broker.kafka import dispatch
from rafka.broker.kafka.errors import MalformedRequest, UnsupportedRequest
from rafka.broker.kafka.precheck import check_body
from rafka.broker.kafka.schemas import request_schema
from tests.unit.kafka_support.fake_broker import FakeBroker


@pytest.mark.parametrize("version,body", [
    (12, b"\xff\xff\xff\xff\x0f\x00\x00\x00"),          # compact array of 2^32-2 topics
    (12, b"\x80\x80\x80\x80\x08\x00\x00\x00"),          # 2^31-1 topics
    (1, struct.pack(">i", 2**31 - 1)),                   # legacy array of 2^31-1 topics
    (1, struct.pack(">i", -7)),                          # negative length
    (4, struct.pack(">ih", 1, 30000) + b"abc"),          # string longer than the body
])
def test_hostile_lengths_are_refused(version, body):
    with pytest.raises(MalformedRequest):
        check_body(request_schema(3, version), body, 0)


def test_valid_bodies_pass():
    check_body(request_schema(3, 12), b"\x00\x00\x00\x00", 0)  # null topics
    check_body(request_schema(3, 1), struct.pack(">i", -1), 0)


class NoController(FakeBroker):
    async def route_to_controller(self, msg, timeout_s=None):
        from rafka.netproto.errors import ErrorCode, RafkaError

        raise RafkaError(ErrorCode.NOT_CONTROLLER, "no controller in this test")


SEEDS = [
    b"\x00\x03\x00\x0c\x00\x00\x00\x01\x00\x01t\x00\x02\x00\x09topic-one\x00\x00\x01\x00\x00",
    b"\x00\x12\x00\x03\x00\x00\x00\x01\x00\x01t\x00\x02a\x021\x00",
    b"\x00\x13\x00\x07\x00\x00\x00\x01\x00\x01t\x00\x02\x02x\xff\xff\xff\xff\xff\xff\x01\x01\x00\x00\x00\x03\xe8\x01\x00",
]


@settings(max_examples=400, deadline=None)
@given(seed=st.sampled_from(SEEDS), flips=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
       cut=st.integers(0, 200), tail=st.binary(max_size=16))
def test_mutated_requests_are_answered_or_refused(seed, flips, cut, tail):
    frame = bytearray(seed)
    for i, v in flips:
        if i < len(frame):
            frame[i] = v
    frame = bytes(frame[:max(cut, 8)]) + tail

    async def one():
        try:
            await dispatch.respond(frame, NoController())
        except (MalformedRequest, UnsupportedRequest):
            pass

    trio.run(one)
