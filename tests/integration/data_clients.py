"""Blocking produce/read-back helpers on real, unmodified Kafka clients
(kafka-python, confluent-kafka, aiokafka), used by the data path tests.

Each `produce_*` sends `n` keyed records (key `k{i % keys}`, value `v{i}`)
with the client's default partitioner and returns what the client was told
for each record: {i: (partition, offset)}. Each `read_*` assigns every
partition, seeks to the beginning and reads until `expected` records came
(or the deadline): [(partition, offset, key, value)] in arrival order.
"""

from __future__ import annotations

import time

KEYS = 1000


def key(i: int) -> bytes:
    return b"k%d" % (i % KEYS)


def value(i: int) -> bytes:
    return b"v%d" % i


def index_of(value_bytes: bytes) -> int:
    return int(value_bytes[1:])


# ------------------------------------------------------------------ confluent
def produce_confluent(bootstrap: str, topic: str, n: int, timeout_s: float = 120.0, **extra) -> dict:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "log_level": 3, **extra})
    acked: dict[int, tuple[int, int]] = {}
    errors: list = []

    def report(i):
        def cb(err, msg):
            if err is not None:
                errors.append((i, err))
            else:
                acked[i] = (msg.partition(), msg.offset())
        return cb

    for i in range(n):
        while True:
            try:
                p.produce(topic, key=key(i), value=value(i), on_delivery=report(i))
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(timeout_s)
    assert left == 0, f"{left} records not delivered in {timeout_s}s"
    assert not errors, errors[:5]
    return acked


def read_confluent(bootstrap: str, topic: str, partitions: int, expected: int, timeout_s: float = 60.0) -> list:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False,
                  "log_level": 3})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out = []
        deadline = time.monotonic() + timeout_s
        while len(out) < expected and time.monotonic() < deadline:
            for m in c.consume(1000, 0.5):
                assert m.error() is None, m.error()
                out.append((m.partition(), m.offset(), m.key(), m.value()))
        return out
    finally:
        c.close()


# --------------------------------------------------------------- kafka-python
def produce_kafka_python(bootstrap: str, topic: str, n: int, timeout_s: float = 120.0) -> dict:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        futures = [(i, p.send(topic, key=key(i), value=value(i))) for i in range(n)]
        p.flush(timeout=timeout_s)
        acked = {}
        for i, f in futures:
            md = f.get(timeout=timeout_s)
            acked[i] = (md.partition, md.offset)
        return acked
    finally:
        p.close(timeout=10)


def read_kafka_python(bootstrap: str, topic: str, partitions: int, expected: int, timeout_s: float = 60.0) -> list:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        out = []
        deadline = time.monotonic() + timeout_s
        while len(out) < expected and time.monotonic() < deadline:
            for tp, msgs in c.poll(timeout_ms=500, max_records=5000).items():
                out.extend((m.partition, m.offset, m.key, m.value) for m in msgs)
        return out
    finally:
        c.close()


# ------------------------------------------------------------------- aiokafka
def produce_aiokafka(bootstrap: str, topic: str, n: int, timeout_s: float = 120.0) -> dict:
    import asyncio

    from aiokafka import AIOKafkaProducer

    async def main():
        p = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await p.start()
        try:
            futures = [(i, await p.send(topic, key=key(i), value=value(i))) for i in range(n)]
            acked = {}
            for i, f in futures:
                md = await asyncio.wait_for(f, timeout_s)
                acked[i] = (md.partition, md.offset)
            return acked
        finally:
            await p.stop()

    return asyncio.run(main())


def read_aiokafka(bootstrap: str, topic: str, partitions: int, expected: int, timeout_s: float = 60.0) -> list:
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def main():
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await c.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            out = []
            deadline = time.monotonic() + timeout_s
            while len(out) < expected and time.monotonic() < deadline:
                for _tp, msgs in (await c.getmany(timeout_ms=500, max_records=5000)).items():
                    out.extend((m.partition, m.offset, m.key, m.value) for m in msgs)
            return out
        finally:
            await c.stop()

    return asyncio.run(main())


def check_read_back(acked: dict, got: list, n: int) -> None:
    """Every acknowledged record read back exactly once, at the partition
    and offset its producer was told, each key in one partition, and per
    partition in produce order."""
    assert sorted(acked) == list(range(n)), f"{n - len(acked)} records not acknowledged"
    seen = [index_of(v) for _p, _o, _k, v in got]
    dups = len(seen) - len(set(seen))
    assert dups == 0, f"{dups} duplicates"
    missing = set(range(n)) - set(seen)
    assert not missing, f"{len(missing)} records lost, e.g. {sorted(missing)[:5]}"
    key_partition: dict[bytes, int] = {}
    last_in_partition: dict[int, int] = {}
    for p, o, k, v in got:
        i = index_of(v)
        assert k == key(i)
        assert (p, o) == acked[i], f"record {i} read at {(p, o)}, acknowledged at {acked[i]}"
        assert key_partition.setdefault(k, p) == p, f"key {k!r} in two partitions"
        assert last_in_partition.get(p, -1) < i, f"partition {p} out of produce order at record {i}"
        last_in_partition[p] = i
