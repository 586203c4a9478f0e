"""FrameStream: frames read from a real stream, large ones straight into
their buffer, come out whole and in order; a stream that ends or stalls
inside a large frame is reported, not waited on forever."""

from __future__ import annotations

import os

import pytest
import trio
import trio.testing

from rafka.netproto.errors import ErrorCode
from rafka.netproto.framing import FrameError, encode_frame
from rafka.netproto.stream import FrameStream, ReadTimeout

FRAME_MAX = 8 * 1024 * 1024
PAYLOADS = [b"a", os.urandom(3 * 1024 * 1024), b"", os.urandom(70_000), b"z" * 10, os.urandom(1 << 20)]


async def _tcp_pair():
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = trio.socket.socket()
    await client.connect(listener.getsockname())
    server, _ = await listener.accept()
    listener.close()
    return trio.SocketStream(client), trio.SocketStream(server)


async def _send_sliced(stream, data: bytes, slice_bytes: int) -> None:
    for i in range(0, len(data), slice_bytes):
        await stream.send_all(data[i:i + slice_bytes])
        await trio.sleep(0)  # wait-ok: one scheduler turn per slice


@pytest.mark.parametrize("transport", ["tcp", "memory"])
@pytest.mark.parametrize("slice_bytes", [1000, 65536, 10 * 1024 * 1024])
async def test_large_and_small_frames_arrive_whole_and_in_order(transport, slice_bytes):
    """Goal: on a socket (the read-into-buffer path) and on a stream with
    no socket (the fallback), every payload comes out equal and in order,
    however the sender splits its writes."""
    if transport == "tcp":
        sender, receiver = await _tcp_pair()
    else:
        sender, receiver = trio.testing.memory_stream_pair()
    data = b"".join(encode_frame(p, FRAME_MAX) for p in PAYLOADS)
    fs = FrameStream(receiver, FRAME_MAX, 65536)
    got = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_send_sliced, sender, data, slice_bytes)
        for _ in PAYLOADS:
            with trio.fail_after(30):
                got.append(bytes(await fs.receive_frame()))
    assert got == PAYLOADS


async def test_stream_ending_inside_a_large_frame_is_corrupt():
    """Goal: the peer closing in the middle of a large frame is
    CORRUPT_MESSAGE, not a clean end and not a hang."""
    sender, receiver = await _tcp_pair()
    frame = encode_frame(os.urandom(1 << 20), FRAME_MAX)

    async def send_half_and_close():
        await sender.send_all(frame[:300_000])
        await sender.aclose()

    fs = FrameStream(receiver, FRAME_MAX, 65536)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_half_and_close)
            with pytest.raises(FrameError) as err:
                await fs.receive_frame()
    assert err.value.code == ErrorCode.CORRUPT_MESSAGE


async def test_stall_inside_a_large_frame_hits_the_partial_frame_deadline():
    """Goal: a peer that stops sending halfway through a large frame is cut
    off by the partial-frame deadline even while the frame is read straight
    into its buffer."""
    sender, receiver = await _tcp_pair()
    frame = encode_frame(os.urandom(1 << 20), FRAME_MAX)
    fs = FrameStream(receiver, FRAME_MAX, 65536)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.send_all, frame[:300_000])
            with pytest.raises(ReadTimeout) as err:
                await fs.receive_frame(partial_timeout_s=0.5)
    assert err.value.which == "partial_frame"
    await sender.aclose()
