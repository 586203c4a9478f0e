"""A consumer-group member in its own process (so a test can kill -9 it):
subscribes to a topic with a real client, prints one JSON line per event
to stdout ({"assigned": [partitions]} after each assignment change,
{"record": [partition, offset, value]} per record once its commit is
acknowledged), and closes (LeaveGroup) on SIGTERM.

confluent: the commit is asynchronous and waited for with a deadline,
re-sent when none came: a synchronous commit can block for ever inside
librdkafka when the coordinator is killed under it (seen in the coordinator
kill -9 test and jepsen soak seed 203), which would test the client, not
the coordinator's failover.

usage: python -m tests.integration.group_member CLIENT BOOTSTRAP TOPIC GROUP
       [--strategy S] [--instance-id I] [--session-ms N]
CLIENT: confluent | kafka-python | aiokafka
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import signal
import sys
import time

STOP = False
COMMIT_WAIT_S = 5.0  # per attempt of a confluent commit


def emit(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _stop(*_):
    global STOP
    STOP = True


def run_confluent(a) -> None:
    from confluent_kafka import Consumer

    conf = {"bootstrap.servers": a.bootstrap, "group.id": a.group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "session.timeout.ms": a.session_ms, "heartbeat.interval.ms": 300,
            "partition.assignment.strategy": a.strategy or "range", "log_level": 3}
    if a.instance_id:
        conf["group.instance.id"] = a.instance_id
    acked: dict[tuple[int, int], object] = {}  # (partition, offset) -> commit error or None

    def on_commit(err, parts):
        for tp in parts:
            acked[(tp.partition, tp.offset)] = err if err is not None else tp.error

    conf["on_commit"] = on_commit
    c = Consumer(conf)
    owned: set[int] = set()
    early: collections.deque = collections.deque()  # polled while waiting for a commit

    def commit(m) -> bool:
        key = (m.partition(), m.offset() + 1)
        while not STOP:
            acked.pop(key, None)
            c.commit(message=m, asynchronous=True)
            deadline = time.monotonic() + COMMIT_WAIT_S
            while key not in acked and not STOP and time.monotonic() < deadline:
                got = c.poll(0.05)  # serves on_commit; a message that arrives meanwhile waits its turn
                if got is not None:
                    early.append(got)
            if key in acked and acked[key] is None:
                return True
        return False

    def on_assign(consumer, parts):
        owned.update(p.partition for p in parts)
        if a.strategy == "cooperative-sticky":
            consumer.incremental_assign(parts)
        emit({"assigned": sorted(owned)})

    def on_revoke(consumer, parts):
        owned.difference_update(p.partition for p in parts)
        if a.strategy == "cooperative-sticky":
            consumer.incremental_unassign(parts)
        emit({"assigned": sorted(owned)})

    c.subscribe([a.topic], on_assign=on_assign, on_revoke=on_revoke)
    while not STOP:
        m = early.popleft() if early else c.poll(0.2)
        if m is None or m.error():
            continue
        if commit(m):
            emit({"record": [m.partition(), m.offset(), m.value().decode()]})
    c.close()


def _kafka_python_join_pending_is_rejoin() -> None:
    """Work around a kafka-python 3.0 bug: its join loop runs only `while
    need_rejoin()`, not while a JoinGroup/SyncGroup attempt is still in
    flight (the Java client loops on rejoinNeededOrPending). A leader that
    rejoins because its metadata changed (it first assigned before it knew
    the topic's partitions) clears that reason itself when it assigns; if
    its poll(200 ms) returns between the JoinGroup and the SyncGroup
    answers, no later poll awaits the attempt, so the member never takes
    its assignment, never heartbeats again, and is expired and never
    comes back. Seen once in about 160 runs of the share test: the broker
    answered all three SyncGroups; the leader never logged its assignment."""
    from kafka.coordinator.consumer import ConsumerCoordinator

    need_rejoin = ConsumerCoordinator.need_rejoin

    def need_rejoin_or_pending(self) -> bool:
        task = self._join_task  # AttributeError (a failed member) if kafka-python renames it
        return need_rejoin(self) or (task is not None and not task.is_done)

    ConsumerCoordinator.need_rejoin = need_rejoin_or_pending


def run_kafka_python(a) -> None:
    from kafka import KafkaConsumer, ConsumerRebalanceListener, OffsetAndMetadata, TopicPartition

    _kafka_python_join_pending_is_rejoin()
    c = KafkaConsumer(bootstrap_servers=a.bootstrap, group_id=a.group, auto_offset_reset="earliest",
                      enable_auto_commit=False, session_timeout_ms=a.session_ms, heartbeat_interval_ms=300)

    class L(ConsumerRebalanceListener):
        def on_partitions_assigned(self, assigned):
            emit({"assigned": sorted(tp.partition for tp in c.assignment())})

        def on_partitions_revoked(self, revoked):
            pass

    c.subscribe([a.topic], listener=L())
    while not STOP:
        for tp, msgs in c.poll(timeout_ms=200).items():
            for m in msgs:
                c.commit({TopicPartition(a.topic, m.partition): OffsetAndMetadata(m.offset + 1, "", -1)})
                emit({"record": [m.partition, m.offset, m.value.decode()]})
    c.close()


def run_aiokafka(a) -> None:
    import asyncio

    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

    async def main():
        c = AIOKafkaConsumer(bootstrap_servers=a.bootstrap, group_id=a.group, auto_offset_reset="earliest",
                             enable_auto_commit=False, session_timeout_ms=a.session_ms,
                             heartbeat_interval_ms=300)

        class L(ConsumerRebalanceListener):
            async def on_partitions_assigned(self, assigned):
                emit({"assigned": sorted(tp.partition for tp in c.assignment())})

            async def on_partitions_revoked(self, revoked):
                pass

        await c.start()
        c.subscribe([a.topic], listener=L())
        try:
            while not STOP:
                batches = await c.getmany(timeout_ms=200)
                for tp, msgs in batches.items():
                    for m in msgs:
                        await c.commit({TopicPartition(a.topic, m.partition): m.offset + 1})
                        emit({"record": [m.partition, m.offset, m.value.decode()]})
        finally:
            await c.stop()

    asyncio.run(main())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("client")
    p.add_argument("bootstrap")
    p.add_argument("topic")
    p.add_argument("group")
    p.add_argument("--strategy")
    p.add_argument("--instance-id")
    p.add_argument("--session-ms", type=int, default=3000)
    a = p.parse_args()
    # The Python clients' own account of joins, syncs and heartbeats goes to
    # stderr, which the test keeps and shows when a wait times out.
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, _stop)
    {"confluent": run_confluent, "kafka-python": run_kafka_python, "aiokafka": run_aiokafka}[a.client](a)
    emit({"closed": True})


if __name__ == "__main__":
    main()
