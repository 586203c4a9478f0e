"""One loaded __consumer_offsets partition on its leader (trio): the pure
core of its groups, its ordered writer, its timer, and the parked
JoinGroup/SyncGroup requests. Created when this broker becomes the
partition's leader (in one leader epoch), loaded by replaying the log from
its start, closed at once when the leadership (or the epoch) changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from rafka.broker.group import offsets as offset_rules
from rafka.broker.group import records
from rafka.broker.group.config import GroupConfig
from rafka.broker.group.coordinator import GroupCoordinatorCore
from rafka.broker.group.errors import GroupError, GroupErrorCode as E
from rafka.broker.group.writer import PartitionWriter, Write
from rafka.broker.replica.types import FetchPartition
from rafka.log.batch import parse_header
from rafka.log.errors import LogError
from rafka.log.records import decode_batch
from rafka.netproto.errors import RafkaError

WRITES_PENDING_MAX = 10_000
RECORDS_PER_BATCH_MAX = 5_000
LOAD_WAIT_MS = 500


class Parked:
    """A JoinGroup/SyncGroup waiting for the core's answer."""

    __slots__ = ("event", "result")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.result: Any = None


class Shard:
    def __init__(self, replicas, topic: str, partition: int, leader_epoch: int, config: GroupConfig,
                 now_ms: Callable[[], int], log) -> None:
        self.replicas = replicas
        self.topic = topic
        self.partition = partition
        self.leader_epoch = leader_epoch
        self.config = config
        self.now_ms = now_ms
        self.log = log.bind(partition=partition, leader_epoch=leader_epoch)
        self.core = GroupCoordinatorCore(config, log=self.log)
        self.loaded = False
        self.closed = False
        self.cancel = trio.CancelScope()
        self.writer = PartitionWriter(replicas, topic, partition, leader_epoch, pending_max=WRITES_PENDING_MAX,
                                      records_per_batch_max=RECORDS_PER_BATCH_MAX,
                                      timeout_s=config.commit_timeout_ms / 1000, log=self.log)
        self._wake = trio.Event()

    # ------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        with self.cancel:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self.writer.run)
                    try:
                        await self._load()
                    except (GroupError, RafkaError) as exc:
                        # The leadership moved while loading (or the partition
                        # went): stop; the service starts a new shard if we
                        # lead again.
                        self.log.info("group.partition_load_stopped", error=str(exc))
                        nursery.cancel_scope.cancel()
                        return
                    self.loaded = True
                    self.log.info("group.partition_loaded", groups=len(self.core.groups),
                                  offsets=offset_rules.total_offsets(self.core))
                    nursery.start_soon(self._expiry_loop)
                    await self._timer()
            finally:
                self.close()

    def close(self) -> None:
        """Stop serving at once: every parked request gets NOT_COORDINATOR."""
        if self.closed:
            return
        self.closed = True
        self.loaded = False
        self.cancel.cancel()
        for g in self.core.groups.values():
            for m in g.members.values():
                for token in (m.join_token, m.sync_token):
                    if isinstance(token, Parked) and not token.event.is_set():
                        token.result = GroupError(E.NOT_COORDINATOR)
                        token.event.set()
        self.log.info("group.partition_unloaded")

    async def _load(self) -> None:
        p = self.replicas.partition(self.topic, self.partition)
        offset = p.log.log_start_offset
        target = p.log.log_end_offset
        count = 0
        while offset < target:
            res = (await self.replicas.fetch(
                [FetchPartition(self.topic, self.partition, offset, self.config.load_fetch_bytes_max,
                                current_leader_epoch=self.leader_epoch)],
                max_wait_ms=LOAD_WAIT_MS, max_bytes=self.config.load_fetch_bytes_max))[0]
            if res.error_code:
                raise GroupError(E.NOT_COORDINATOR, f"load stopped: error {res.error_code}")
            data = res.records
            pos = 0
            while pos < len(data):
                h = parse_header(data, pos)
                if not h.is_control:
                    try:
                        _, recs = decode_batch(data, pos)
                    except LogError as exc:
                        self.log.error("group.load_bad_batch", offset=h.base_offset, error=str(exc))
                        recs = []
                    for r in recs:
                        self._replay(r.key, r.value)
                        count += 1
                offset = h.next_offset
                pos += h.size
        self.core.finish_load(self.now_ms())
        self.log.info("group.partition_replayed", records=count, log_end_offset=target)

    def _replay(self, key, value) -> None:
        try:
            rec = records.decode(key, value)
        except records.RecordFormatError as exc:
            self.log.warning("group.load_bad_record", error=str(exc))
            return
        if isinstance(rec, records.OffsetRecord):
            g = self.core.groups.get(rec.group_id)
            if g is None:
                if rec.value is None:
                    return
                g = self.core._get_or_create(rec.group_id, self.now_ms())
            offset_rules.apply_commit(g, rec.topic, rec.partition, rec.value)
        else:
            self.core.load_group(rec)

    # ----------------------------------------------------------------- time
    async def _timer(self) -> None:
        while True:
            deadline = self.core.next_deadline_ms()
            wake = self._wake
            if deadline is None:
                await wake.wait()
            else:
                with trio.move_on_after(max(deadline - self.now_ms(), 0) / 1000):
                    await wake.wait()
            if self._wake is wake and wake.is_set():
                self._wake = trio.Event()
            self.core.tick(self.now_ms())
            self.pump()

    async def _expiry_loop(self) -> None:
        while True:
            await trio.sleep(self.config.offsets_retention_check_interval_ms / 1000)
            gone = self.core.expire_offsets(self.now_ms())
            if gone:
                self.writer.submit(Write([(records.offset_key(g, t, p), None) for g, t, p in gone],
                                         lambda code: None))
            self.pump()

    # ------------------------------------------------------------ delivery
    def pump(self) -> None:
        """Deliver the core's answers and queue its group writes; wake the
        timer (deadlines may have moved)."""
        for token, result in self.core.outbox.drain():
            if isinstance(token, Parked) and not token.event.is_set():
                token.result = result
                token.event.set()
        for w in self.core.take_writes():
            key = records.group_key(w.group_id)
            done = self._store_callback(w) if w.completes_sync else (lambda code: None)
            if not self.writer.submit(Write([(key, w.value)], done)):
                self.log.warning("group.write_queue_full", group=w.group_id, generation=w.generation_id)
                done(E.COORDINATOR_NOT_AVAILABLE)
        self._wake.set()

    def _store_callback(self, w):
        def done(code: int) -> None:
            if self.closed:
                return
            self.core.store_done(self.now_ms(), w.group_id, w.generation_id, code)
            self.pump()
        return done

    async def park(self, token: Parked, result):
        """Wait for a parked request's answer (None: it was parked)."""
        if result is not None:
            self.pump()
            return result
        self.pump()
        await token.event.wait()
        if isinstance(token.result, GroupError):
            raise token.result
        return token.result

    async def write(self, recs: list[tuple[bytes, bytes | None]]) -> int:
        done = trio.Event()
        box = [E.NONE]

        def cb(code: int) -> None:
            box[0] = code
            done.set()

        if not self.writer.submit(Write(recs, cb)):
            return E.COORDINATOR_NOT_AVAILABLE
        await done.wait()
        return box[0]
