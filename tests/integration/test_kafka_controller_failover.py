"""Goal: a real Kafka client streams CreateTopics while the active
controller is killed with SIGKILL; with the client's retries every topic
ends up created exactly once (one topic, its partitions), and
TOPIC_ALREADY_EXISTS is only ever the answer to a retry whose first
attempt had an unknown outcome."""

from __future__ import annotations

import threading
import time

import pytest
import trio

from tests.integration.conftest import wait_for
from tests.integration.kafka_clients import confluent_metadata, in_thread

pytestmark = pytest.mark.integration

TOPICS = 30
RETRIABLE = ("NOT_CONTROLLER", "REQUEST_TIMED_OUT", "_TIMED_OUT", "_TRANSPORT", "LEADER_NOT_AVAILABLE",
             "_MSG_TIMED_OUT", "NOT_COORDINATOR", "_ALL_BROKERS_DOWN", "_DESTROY", "UNKNOWN_SERVER_ERROR")
TOPIC_DEADLINE_S = 45


class Stream:
    """Creates topics s0..s{TOPICS-1} one after the other, retrying each
    until it exists; records every attempt's outcome."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.created = 0
        self.outcomes: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def run(self) -> None:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 5000})
        for k in range(TOPICS):
            name = f"s{k}"
            deadline = time.monotonic() + TOPIC_DEADLINE_S
            attempts = self.outcomes.setdefault(name, [])
            while True:
                fut = admin.create_topics([NewTopic(name, 2, 2)], request_timeout=5, operation_timeout=5)[name]
                try:
                    fut.result(timeout=15)
                    attempts.append("OK")
                    break
                except KafkaException as exc:
                    err = exc.args[0].name()
                    attempts.append(err)
                    if err == "TOPIC_ALREADY_EXISTS":
                        break
                    assert err in RETRIABLE, (name, attempts)
                assert time.monotonic() < deadline, (name, attempts)
                time.sleep(0.2)  # wait-ok: the client's backoff between retries
                # librdkafka keeps the controller id of its last Metadata:
                # refresh it so the retry goes to the new controller.
                try:
                    admin.list_topics(timeout=5)
                except KafkaException:
                    pass
            with self.lock:
                self.created += 1


async def test_controller_kill_during_admin_stream(cluster_factory):
    cluster = await cluster_factory(3, kafka=True)
    cluster.start_all()
    await cluster.wait_leader(timeout_s=30)

    async def ready():
        return sorted((await in_thread(confluent_metadata, cluster.kafka_address(1))).brokers) == [1, 2, 3]

    await wait_for(ready, timeout_s=30, what="three unfenced brokers")
    stream = Stream(cluster.kafka_bootstrap)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.to_thread.run_sync, stream.run)

        async def some_created():
            return stream.created >= 5

        await wait_for(some_created, timeout_s=60, what="five topics created before the kill")
        leader = (await cluster.wait_leader(timeout_s=10))["leader_id"]
        await cluster.kill(leader)
    survivor = next(i for i in cluster.ids if i != leader)
    md = await in_thread(confluent_metadata, cluster.kafka_address(survivor))
    names = {n for n in md.topics if n.startswith("s")}
    assert names == {f"s{k}" for k in range(TOPICS)}
    assert all(len(md.topics[n].partitions) == 2 for n in names)
    for name, attempts in stream.outcomes.items():
        assert attempts[-1] in ("OK", "TOPIC_ALREADY_EXISTS"), (name, attempts)
        # TOPIC_ALREADY_EXISTS only after an attempt whose outcome was unknown.
        assert attempts[0] != "TOPIC_ALREADY_EXISTS", (name, attempts)
