"""Blocking confluent-kafka helpers for the data workloads; the async
workloads call them through `trio.to_thread`. The only module that knows
librdkafka's settings and error shapes.

Outcome rule for a send (why): `ok` only with a delivery report carrying a
partition and offset; every error is `info`, since librdkafka may have
written the record before the error (a timed-out or retried request), and
the lost checker only counts acknowledged records, so calling a possible
write unknown costs nothing while calling it failed could hide a phantom.
"""

from __future__ import annotations

import time

LOG_LEVEL = 0
REPORT_MARGIN_S = 1.0  # librdkafka's own logging stays off; outcomes are in the history


def producer_config(bootstrap: str, op_timeout_s: float) -> dict:
    ms = int(op_timeout_s * 1000)
    return {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
            "message.timeout.ms": ms, "request.timeout.ms": max(500, ms // 2),
            "linger.ms": 0, "socket.timeout.ms": max(1000, ms),
            "topic.metadata.refresh.interval.ms": 1000, "log_level": LOG_LEVEL}


class SendOutcome:
    __slots__ = ("type", "partition", "offset", "error", "fatal")

    def __init__(self, type_: str, partition=None, offset=None, error=None, fatal=False) -> None:
        self.type, self.partition, self.offset, self.error, self.fatal = type_, partition, offset, error, fatal


def make_producer(bootstrap: str, op_timeout_s: float):
    from confluent_kafka import Producer

    return Producer(producer_config(bootstrap, op_timeout_s))


# Handles a stuck thread may still be inside: never destroyed (a destroy
# under that thread could hang whichever thread dropped the last reference);
# scripts/jepsen.py leaves with os._exit, so interpreter shutdown never
# destroys them either.
_KEPT_UNTIL_EXIT: list = []


def keep_until_exit(handle) -> None:
    _KEPT_UNTIL_EXIT.append(handle)


def dispose_producer(held: list) -> None:
    """Purge, flush briefly and destroy the producer in `held` (emptied).

    Call through `trio.to_thread`: the last reference to a librdkafka
    handle runs rd_kafka_destroy, which blocks until the client's threads
    end. The harness's trio thread also runs the fault proxies, so a destroy
    there stops every link of the cluster under test while it blocks; if the
    destroy waits on a broker reached through those proxies, nothing ever
    moves again (the suspected cause of kafka seed 206's hang at the end of
    its run: every node-to-node link went silent at once)."""
    producer = held.pop()
    producer.purge()
    producer.flush(1)
    del producer  # the last reference: the destroy runs here, in this worker thread


def send_one(held: list, topic: str, key: str, value: str, timeout_s: float) -> SendOutcome:
    """Produce one record with the producer in `held` and wait for its
    delivery report (bounded). The producer is passed inside its list so no
    frame on the trio side (say, in the traceback of a Cancelled raised as
    this call starts) keeps a reference that could outlive `dispose_producer`."""
    producer = held[0]
    got: list[SendOutcome] = []

    def report(err, msg):
        if err is None:
            got.append(SendOutcome("ok", msg.partition(), msg.offset()))
        else:
            got.append(SendOutcome("info", error=err.name(), fatal=bool(err.fatal())))

    # a margin past message.timeout.ms so librdkafka's own verdict comes first
    deadline = time.monotonic() + timeout_s + REPORT_MARGIN_S
    while True:
        try:
            producer.produce(topic, key=key.encode(), value=value.encode(), on_delivery=report)
            break
        except BufferError:
            if time.monotonic() > deadline:
                return SendOutcome("fail", error="QUEUE_FULL")
            producer.poll(0.05)
        except Exception as exc:  # noqa: BLE001 - e.g. a fatal producer: surely not queued
            return SendOutcome("fail", error=type(exc).__name__, fatal=True)
    while not got and time.monotonic() < deadline:
        try:
            producer.poll(min(0.1, max(0.0, deadline - time.monotonic())))
        except Exception as exc:  # noqa: BLE001 - a fatal producer error raised by poll
            name = exc.args[0].name() if exc.args and hasattr(exc.args[0], "name") else type(exc).__name__
            return SendOutcome("info", error=name, fatal=True)
    if not got:
        return SendOutcome("info", error="NO_DELIVERY_REPORT")
    return got[0]


def admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "log_level": LOG_LEVEL})


def create_topic(bootstrap: str, topic: str, partitions: int, rf: int, configs: dict,
                 timeout_s: float) -> str:
    """'ok' (created or already there) or the error name."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewTopic

    client = admin(bootstrap)
    fut = client.create_topics([NewTopic(topic, partitions, rf, config=configs)],
                               request_timeout=timeout_s)[topic]
    try:
        fut.result(timeout_s)
        return "ok"
    except KafkaException as exc:
        name = exc.args[0].name()
        return "ok" if name == "TOPIC_ALREADY_EXISTS" else name
    except Exception as exc:  # noqa: BLE001 - a timeout: try again
        return type(exc).__name__


def topic_state(bootstrap: str, topic: str, timeout_s: float) -> dict[int, tuple[int, list[int]]]:
    """{partition: (leader, isr)} from Metadata ({} when unknown)."""
    try:
        md = admin(bootstrap).list_topics(topic, timeout=timeout_s)
    except Exception:  # noqa: BLE001 - not reachable now: the caller retries
        return {}
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return {}
    return {p.id: (p.leader, sorted(p.isrs)) for p in t.partitions.values()}


def consumer(bootstrap: str, group: str, **extra):
    from confluent_kafka import Consumer

    return Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "log_level": LOG_LEVEL, **extra})


def high_watermark(bootstrap: str, topic: str, partition: int, timeout_s: float) -> int | None:
    from confluent_kafka import TopicPartition

    c = consumer(bootstrap, "jepsen-hw")
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)[1]
    except Exception:  # noqa: BLE001 - unknown now
        return None
    finally:
        c.close()


def read_partition(bootstrap: str, topic: str, partition: int, target: int,
                   timeout_s: float) -> tuple[list[list], int | None]:
    """Read `partition` from offset 0 until an offset >= target-1 arrived or
    the deadline; returns ([[partition, offset, key, value]], reached end:
    the next offset, or None when target was not reached)."""
    from confluent_kafka import TopicPartition

    c = consumer(bootstrap, "jepsen-final-reader")
    out: list[list] = []
    nxt = 0
    try:
        c.assign([TopicPartition(topic, partition, 0)])
        deadline = time.monotonic() + timeout_s
        while nxt < target and time.monotonic() < deadline:
            for m in c.consume(500, 0.2):
                if m.error() is not None:
                    continue
                out.append(record_of(m))
                nxt = max(nxt, m.offset() + 1)
    finally:
        c.close()
    return out, (nxt if nxt >= target else None)


def record_of(m) -> list:
    return [m.partition(), m.offset(), _text(m.key()), _text(m.value())]


def _text(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "replace")
