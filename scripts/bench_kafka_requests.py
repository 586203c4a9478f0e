"""kafka-requests: pipelined Metadata requests on one connection to one node.

One connection to a real node's Kafka listener (a one-node cluster started
here), Metadata v12 requests for all topics (the cluster has one topic of
3 partitions), at most --window in flight. The baseline is a bare trio
server in its own process with the same framing that answers each frame
with itself (no decoding, no handler): the ratio says what the listener,
kio and the handler cost over moving the bytes. Last line:
`kafka-requests: X req/s, p99 Y ms (ratio R vs trio echo)`
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

SIZE = struct.Struct(">i")

ECHO_SERVER = r"""
import struct, sys, trio
SIZE = struct.Struct(">i")
async def echo(stream):
    buf = bytearray()
    async with stream:
        while True:
            data = await stream.receive_some(65536)
            if not data:
                return
            buf += data
            out = bytearray()
            while len(buf) >= 4:
                (n,) = SIZE.unpack_from(buf, 0)
                if len(buf) < 4 + n:
                    break
                out += buf[:4 + n]
                del buf[:4 + n]
            if out:
                await stream.send_all(bytes(out))
async def main():
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    print(listeners[0].socket.getsockname()[1], flush=True)
    await trio.serve_listeners(echo, listeners)
trio.run(main)
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--warmup", type=int, default=1_000)
    p.add_argument("--window", type=int, default=32, help="requests in flight on the connection")


def metadata_frames(n: int) -> list[bytes]:
    from kio.schema.metadata.v12.request import MetadataRequest

    from rafka.broker.client.kio_client import encode_request

    body = MetadataRequest(topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)
    return [encode_request(body, i + 1, "bench") for i in range(n)]


async def drive(port: int, frames: list[bytes], window: int, warmup: int) -> tuple[float, float]:
    """(requests/s, p99 latency ms) over the frames after the warmup."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    sent_at: list[float] = [0.0] * len(frames)
    latencies: list[float] = []
    slots = trio.Semaphore(window)
    done = trio.Event()
    start = [0.0]

    async def sender():
        # Every free slot is filled in one write, so the client costs one
        # syscall per batch, not per request (it must not be the bottleneck).
        i = 0
        while i < len(frames):
            await slots.acquire()
            batch = [i]
            while i + len(batch) < len(frames):
                try:
                    slots.acquire_nowait()
                except trio.WouldBlock:
                    break
                batch.append(i + len(batch))
            now = time.perf_counter()
            for k in batch:
                if k == warmup:
                    start[0] = now
                sent_at[k] = now
            await stream.send_all(b"".join(frames[k] for k in batch))
            i += len(batch)

    async def receiver():
        buf = bytearray()
        got = 0
        while got < len(frames):
            data = await stream.receive_some(1 << 20)
            if not data:
                raise RuntimeError("connection closed")
            buf += data
            while len(buf) >= 4:
                (n,) = SIZE.unpack_from(buf, 0)
                if len(buf) < 4 + n:
                    break
                del buf[:4 + n]
                if got >= warmup:
                    latencies.append(time.perf_counter() - sent_at[got])
                got += 1
                slots.release()
        done.set()

    async with stream:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            nursery.start_soon(receiver)
    took = time.perf_counter() - start[0]
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return len(latencies) / took, p99


def run(args) -> int:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    from kafka_node import start_node, stop_node, wait_ready

    frames = metadata_frames(args.requests + args.warmup)
    echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        echo_port = int(echo.stdout.readline())
        echo_rate, echo_p99 = trio.run(drive, echo_port, frames, args.window, args.warmup)
    finally:
        echo.kill()
        echo.wait(timeout=10)
    print(f"trio echo: {echo_rate:,.0f} req/s, p99 {echo_p99:.2f} ms")

    with tempfile.TemporaryDirectory(prefix="rafka-bench-") as tmp:
        proc, port = start_node(Path(tmp))
        try:
            trio.run(wait_ready, port)
            trio.run(_create_topic, port)
            rate, p99 = trio.run(drive, port, frames, args.window, args.warmup)
        finally:
            stop_node(proc)
    print(f"kafka-requests: {rate:,.0f} req/s, p99 {p99:.2f} ms (ratio {rate / echo_rate:.3f} vs trio echo)")
    return 0


async def _create_topic(port: int) -> None:
    from kio.schema.create_topics.v7.request import CreatableTopic, CreateTopicsRequest

    from rafka.broker.client.kio_client import KioConnection

    conn = await KioConnection.connect("127.0.0.1", port)
    try:
        resp = await conn.request(CreateTopicsRequest(
            topics=(CreatableTopic(name="bench", num_partitions=3, replication_factor=1, assignments=(),
                                   configs=()),),
            timeout=__import__("datetime").timedelta(seconds=10), validate_only=False))
        assert resp.topics[0].error_code == 0, resp
    finally:
        await conn.aclose()
