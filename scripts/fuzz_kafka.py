#!/usr/bin/env python3
"""Fuzz a running node's Kafka listener with random and mutated frames.

Sends at least --frames frames (valid headers with corrupted bodies, random
API keys and versions, huge and negative sizes, truncated frames, random
garbage, slow senders) over many connections, while a probe asks the node
for ApiVersions and Metadata every --probe-interval-ms and must get an
answer every time. At the end a real client (confluent-kafka) lists
topics. Exit 0 when the node never crashed, every probe was answered and
the real client succeeded. Last line:
`kafka-fuzz: N frames, C connections, R responses, P/P probes answered, node alive, crashes 0`

Without --bootstrap it starts its own one-node cluster (auto-creation off)
in a temporary directory and stops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import trio  # noqa: E402

from rafka.broker.client.kio_client import KafkaWireError, KioConnection, encode_request  # noqa: E402
from rafka.broker.kafka.schemas import request_schema  # noqa: E402
from rafka.broker.kafka.shape import fit  # noqa: E402

SIZE = struct.Struct(">i")
# How long a connection may take to be answered and closed after our EOF.
DRAIN_TIMEOUT_S = 10.0


def seed_bodies() -> list:
    """Valid requests of every served API (admin writes validate-only or
    aimed at topics that do not exist), each version."""
    specs = [
        (18, range(0, 5), {"client_software_name": "fuzz", "client_software_version": "1"}),
        (3, range(0, 13), {"topics": [{"name": "fuzz-topic"}], "allow_auto_topic_creation": False}),
        (3, range(1, 13), {"topics": None}),
        (19, range(2, 8), {"topics": [{"name": "fz", "num_partitions": 1, "replication_factor": 1}],
                           "timeout": 1000, "validate_only": True}),
        (20, range(1, 6), {"topic_names": ["no-such-topic"], "timeout": 1000}),
        (20, range(6, 7), {"topics": [{"name": "no-such-topic"}], "timeout": 1000}),
        (37, range(0, 4), {"topics": [{"name": "no-such-topic", "count": 3}], "timeout": 1000,
                           "validate_only": True}),
        (32, range(1, 5), {"resources": [{"resource_type": 2, "resource_name": "fuzz-topic"},
                                         {"resource_type": 4, "resource_name": "1"}], "include_synonyms": True}),
        (33, range(0, 3), {"resources": [{"resource_type": 2, "resource_name": "no-such-topic",
                                          "configs": [{"name": "retention.ms", "value": "1"}]}],
                           "validate_only": True}),
        (44, range(0, 2), {"resources": [{"resource_type": 2, "resource_name": "no-such-topic",
                                          "configs": [{"name": "retention.ms", "config_operation": 0,
                                                       "value": "1"}]}], "validate_only": True}),
        (60, range(0, 2), {"endpoint_type": 1}),
        (55, range(0, 3), {"topics": [{"topic_name": "__cluster_metadata", "partitions": [{"partition_index": 0}]}]}),
    ]
    out = []
    for key, versions, data in specs:
        for v in versions:
            out.append(fit(request_schema(key, v), data))
    return out


class Fuzzer:
    def __init__(self, port: int, frames: int, seed: int) -> None:
        self.port = port
        self.target = frames
        self.rng = random.Random(seed)
        self.seeds = [encode_request(b, 1)[4:] for b in seed_bodies()]
        self.frames = 0
        self.connections = 0
        self.responses = 0
        self.closed_by_server = 0
        self.stalls = 0
        self.connect_failures = 0
        self.probes = 0
        self.probes_ok = 0
        self.probe_failures: list[str] = []

    # ------------------------------------------------------------ frames
    def mutated_payload(self, kind: int | None = None) -> bytes:
        rng = self.rng
        p = bytearray(rng.choice(self.seeds))
        p[4:8] = SIZE.pack(rng.randrange(2**31))  # correlation id
        kind = rng.randrange(7) if kind is None else kind
        if kind == 0:  # flip bits in the body
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(8, len(p)) if len(p) > 8 else 0
                p[i] ^= 1 << rng.randrange(8)
        elif kind == 1:  # truncate the body
            del p[rng.randint(8, len(p)):]
        elif kind == 2:  # trailing junk
            p += rng.randbytes(rng.randint(1, 64))
        elif kind == 3:  # random body behind a valid header
            del p[rng.randint(8, len(p)):]
            p += rng.randbytes(rng.randint(0, 256))
        elif kind == 4:  # any api key / version
            p[0:4] = struct.pack(">hh", rng.choice([rng.randrange(0, 100), rng.randrange(-5, 2**15)]),
                                 rng.choice([rng.randrange(0, 20), rng.randrange(-5, 2**15)]))
        elif kind == 5:  # huge array / string lengths spliced in
            i = rng.randrange(8, len(p) + 1)
            p[i:i] = rng.choice([b"\xff\xff\xff\x7f", b"\x7f\xff\xff\xff", b"\xff\xff\xff\xff\x0f",
                                 b"\x80\x80\x80\x80\x08", b"\x7f\xff"])
        else:  # a valid request
            pass
        return bytes(p)

    def frame(self, kind: int | None = None) -> bytes:
        p = self.mutated_payload(kind)
        return SIZE.pack(len(p)) + p

    # ------------------------------------------------------- connections
    async def _drain(self, stream: trio.SocketStream) -> None:
        """Read until the node closes; count responses roughly by frames."""
        buf = bytearray()
        with trio.move_on_after(DRAIN_TIMEOUT_S) as scope:
            while True:
                try:
                    data = await stream.receive_some(65536)
                except (trio.BrokenResourceError, OSError):
                    self.closed_by_server += 1
                    return
                if not data:
                    break
                buf += data
                while len(buf) >= 4:
                    (size,) = SIZE.unpack_from(buf, 0)
                    if len(buf) < 4 + size:
                        break
                    del buf[:4 + size]
                    self.responses += 1
        if scope.cancelled_caught:
            self.stalls += 1

    async def _connect(self) -> trio.SocketStream | None:
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        except OSError:
            self.connect_failures += 1
            return None
        self.connections += 1
        return stream

    async def burst(self) -> None:
        """Pipelined valid frames and one mutated one, then EOF; the node
        answers what it can and closes."""
        stream = await self._connect()
        if stream is None:
            return
        rng = self.rng
        async with stream:
            n = rng.randint(1, 20)
            data = b"".join(self.frame(6) for _ in range(n - 1)) + self.frame()
            tail = rng.randrange(10)
            if tail == 0:  # a frame claiming more bytes than follow
                p = self.mutated_payload()
                data += SIZE.pack(len(p) + rng.randint(1, 1000)) + p
                n += 1
            elif tail == 1:  # a huge or negative size
                data += SIZE.pack(rng.choice([2**31 - 1, 200 * 2**20, -1, -(2**31), 3]))
                n += 1
            elif tail == 2:  # pure garbage
                data += rng.randbytes(rng.randint(1, 512))
                n += 1
            try:
                await stream.send_all(data)
                self.frames += n
                await stream.send_eof()
            except (trio.BrokenResourceError, OSError):
                self.frames += n
                self.closed_by_server += 1
                return
            await self._drain(stream)

    async def slow_sender(self) -> None:
        """One valid frame, a byte at a time, then the node must answer it."""
        stream = await self._connect()
        if stream is None:
            return
        async with stream:
            frame = SIZE.pack(len(self.seeds[0])) + self.seeds[0]
            try:
                for i in range(len(frame)):
                    await stream.send_all(frame[i:i + 1])
                    await trio.sleep(0.002)
                self.frames += 1
                await stream.send_eof()
            except (trio.BrokenResourceError, OSError):
                self.closed_by_server += 1
                return
            await self._drain(stream)

    async def worker(self) -> None:
        while self.frames < self.target:
            await self.burst()

    async def slow_worker(self) -> None:
        while self.frames < self.target:
            await self.slow_sender()

    async def probe_loop(self, interval_s: float) -> None:
        from kio.schema.api_versions.v3.request import ApiVersionsRequest
        from kio.schema.metadata.v12.request import MetadataRequest

        while self.frames < self.target:
            self.probes += 1
            try:
                with trio.fail_after(5):
                    conn = await KioConnection.connect("127.0.0.1", self.port, client_id="probe")
                    try:
                        av = await conn.request(ApiVersionsRequest(client_software_name="probe",
                                                                   client_software_version="1"))
                        md = await conn.request(MetadataRequest(topics=None, allow_auto_topic_creation=False,
                                                                include_topic_authorized_operations=False))
                    finally:
                        await conn.aclose()
                assert av.error_code == 0 and [b.node_id for b in md.brokers] == [1]
                self.probes_ok += 1
            except (trio.TooSlowError, KafkaWireError, OSError, AssertionError) as exc:
                self.probe_failures.append(repr(exc))
            await trio.sleep(interval_s)

    async def progress(self) -> None:
        while self.frames < self.target:
            await trio.sleep(5)
            print(f"... {self.frames} frames, {self.connections} connections, {self.responses} responses, "
                  f"{self.stalls} stalls, {self.probes_ok}/{self.probes} probes", file=sys.stderr, flush=True)

    async def run(self, workers: int, slow: int, probe_interval_s: float) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.progress)
            nursery.start_soon(self.probe_loop, probe_interval_s)
            for _ in range(slow):
                nursery.start_soon(self.slow_worker)
            for _ in range(workers):
                nursery.start_soon(self.worker)


def real_client_check(port: int) -> bool:
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"}).list_topics(timeout=10)
    return sorted(md.brokers) == [1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=100_000)
    p.add_argument("--bootstrap", help="HOST:PORT of a running node's Kafka listener (default: start one)")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--slow-senders", type=int, default=2)
    p.add_argument("--probe-interval-ms", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    proc = None
    tmp = None
    if args.bootstrap:
        port = int(args.bootstrap.rpartition(":")[2])
    else:
        from kafka_node import start_node, wait_ready

        tmp = tempfile.TemporaryDirectory(prefix="rafka-fuzz-")
        proc, port = start_node(Path(tmp.name), {"auto_create_topics": False})
        trio.run(wait_ready, port)
    fuzzer = Fuzzer(port, args.frames, args.seed)
    started = time.monotonic()
    try:
        trio.run(fuzzer.run, args.workers, args.slow_senders, args.probe_interval_ms / 1000)
        alive = proc is None or proc.poll() is None
        client_ok = alive and real_client_check(port)
    finally:
        if proc is not None:
            from kafka_node import stop_node

            code = stop_node(proc)
            print(f"node exit code {code}")
        if tmp is not None:
            tmp.cleanup()
    took = time.monotonic() - started
    crashes = 0 if alive else 1
    print(f"{fuzzer.connections} connections in {took:.1f}s, {fuzzer.closed_by_server} closed early by the node, "
          f"{fuzzer.stalls} stalls, {fuzzer.connect_failures} connect failures")
    if fuzzer.probe_failures:
        print(f"probe failures: {fuzzer.probe_failures[:5]}")
    print(f"real client after the fuzz: {'ok' if client_ok else 'FAILED'}")
    print(f"kafka-fuzz: {fuzzer.frames} frames, {fuzzer.connections} connections, {fuzzer.responses} responses, "
          f"{fuzzer.probes_ok}/{fuzzer.probes} probes answered, node {'alive' if alive else 'DEAD'}, "
          f"crashes {crashes}")
    ok = alive and client_ok and not fuzzer.probe_failures and fuzzer.stalls == 0 and fuzzer.frames >= args.frames
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
