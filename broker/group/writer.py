"""One ordered writer per loaded __consumer_offsets partition (trio).

Why one: records of one group must reach the log in the order the core
made them, and ReplicaManager.append waits for the HW (acks=all) after
appending. The writer drains every queued write into one batch (a group
commit), appends it acks=all in the leader epoch the partition was loaded
in, and then calls each write's callback with the Kafka error (0 when the
batch is durable on the ISR).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import trio

from rafka.broker.group.errors import GroupErrorCode as E
from rafka.log.records import Record, build_batch
from rafka.netproto.errors import ErrorCode, RafkaError


@dataclass
class Write:
    records: list[tuple[bytes, bytes | None]]
    done: Callable[[int], None]


def coordinator_error(code: int) -> int:
    """Kafka's mapping of an append failure to a coordinator answer."""
    if code in (ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH,
                ErrorCode.UNKNOWN_TOPIC_OR_PARTITION):
        return E.NOT_COORDINATOR
    if code in (ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                ErrorCode.REQUEST_TIMED_OUT):
        return E.COORDINATOR_NOT_AVAILABLE
    return E.UNKNOWN_SERVER_ERROR


class PartitionWriter:
    def __init__(self, replicas, topic: str, partition: int, leader_epoch: int, *, pending_max: int,
                 records_per_batch_max: int, timeout_s: float, log) -> None:
        self.replicas = replicas
        self.topic = topic
        self.partition = partition
        self.leader_epoch = leader_epoch
        self.records_per_batch_max = records_per_batch_max
        self.timeout_s = timeout_s
        self.log = log
        self._send, self._recv = trio.open_memory_channel(pending_max)

    def submit(self, write: Write) -> bool:
        """Queue a write; False when `pending_max` writes are queued."""
        try:
            self._send.send_nowait(write)
            return True
        except (trio.WouldBlock, trio.ClosedResourceError):
            return False

    async def run(self) -> None:
        try:
            async for first in self._recv:
                batch = [first]
                count = len(first.records)
                while count < self.records_per_batch_max:
                    try:
                        w = self._recv.receive_nowait()
                    except trio.WouldBlock:
                        break
                    batch.append(w)
                    count += len(w.records)
                code = await self._append([r for w in batch for r in w.records])
                for w in batch:
                    w.done(code)
        finally:
            self._send.close()
            while True:
                try:
                    w = self._recv.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
                w.done(E.NOT_COORDINATOR)

    async def _append(self, records: list[tuple[bytes, bytes | None]]) -> int:
        ts = int(time.time() * 1000)
        data = build_batch([Record(k, v) for k, v in records], timestamp_ms=ts)
        try:
            await self.replicas.append(self.topic, self.partition, data, acks=-1, timeout_s=self.timeout_s,
                                       leader_epoch=self.leader_epoch)
            return E.NONE
        except RafkaError as exc:
            self.log.warning("group.write_failed", partition=self.partition, leader_epoch=self.leader_epoch,
                             error=exc.code.name, records=len(records))
            return coordinator_error(int(exc.code))
