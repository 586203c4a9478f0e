"""ReplicaManager: the partitions this broker hosts, following the image.

The trio shell around the pure cores (roles.py, leader_state.py,
producer_state.py, produce_validation.py):

- follows the MetadataImage through a listener on the metadata state
  machine (only the touched topics are diffed) and applies the role
  changes (role_apply.py: become leader/follower with the image's leader
  epoch, open and stop partitions, apply config alters, set a deleted
  topic's directories aside at once);
- `append` (leader only): validate, idempotence check, stamp offsets and
  the leader epoch, append; acks=all waits until the HW passes the batch;
- one flusher group-commits fsyncs across partitions; only durable offsets
  count for the HW (write.caching topics: appended offsets);
- `fetch`: the one read path for consumers (below the HW) and followers
  (to the log end; their fetch reports their durable log end, which moves
  the HW); long polls wait on their own partitions (wakeups.py), never on a timer;
- runs the ISR check (isr_sync.py: AlterPartition for shrink/expand) and
  the background chores (housekeeping.py: HW checkpoints, removal of
  deleted topics' directories, retention) and the log cleaner.

Fetchers (broker/replica/fetcher.py) call `follower_append`,
`wait_durable` and `truncate` for the partitions this broker follows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
import trio

from rafka.broker.controller.requests import AlterPartitionRequest
from rafka.broker.replica import housekeeping, reads
from rafka.broker.replica.fetch_sessions import FetchSessionCache
from rafka.broker.replica.flush import flush_all, wall_ms
from rafka.broker.replica.hw_checkpoint import HighWatermarkCheckpoints, group_by_dir
from rafka.broker.replica.isr_sync import IsrSync, now_ms
from rafka.broker.replica.log_dirs import LogDirs
from rafka.broker.replica.partition import Partition
from rafka.broker.replica.produce_validation import iter_headers, stamp_log_append_time, validate_produce_batch
from rafka.broker.replica.roles import (
    PartitionKey,
    PartitionRole,
    apply_changes,
    diff_roles,
    touched_topic_ids,
)
from rafka.broker.replica.cleaner import LogCleaner
from rafka.broker.replica.role_apply import RoleApplier
from rafka.broker.replica.settings import ReplicaConfig
from rafka.broker.replica.types import CONSUMER_REPLICA_ID, AppendResult, FetchPartition, FetchResult
from rafka.broker.replica.wakeups import FetchWakeups
from rafka.log.errors import LogError
from rafka.log.segment_handles import SegmentHandles
from rafka.netproto.errors import ErrorCode, RafkaError

log = structlog.get_logger("rafka.replica")

IMAGE_CHECK_INTERVAL_S = 2.0
# How long a produce waits for a leadership this broker's image already
# gives it (the role being applied) before NOT_LEADER_OR_FOLLOWER.
LEADERSHIP_WAIT_S_MAX = 5.0
AlterPartitionCall = Callable[[AlterPartitionRequest], Awaitable]


class ReplicaObserver:
    """What the manager reports for metrics; the default ignores it all."""

    def bytes_in(self, topic: str, n: int) -> None:
        """`n` producer batch bytes appended to `topic`."""

    def bytes_out(self, topic: str, n: int) -> None:
        """`n` record batch bytes of `topic` served to a consumer."""

    def fsync_seconds(self, seconds: float) -> None:
        """One group-commit pass took `seconds`."""


class _Waiter:
    __slots__ = ("event", "error")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.error: RafkaError | None = None


class ReplicaManager(RoleApplier):
    def __init__(self, node_id: int, log_dirs: list[Path], metadata, config: ReplicaConfig | None = None, *,
                 alter_partition: AlterPartitionCall | None = None,
                 broker_epoch: Callable[[], int | None] = lambda: None,
                 peer_call=None, catch_up: Callable[[], Awaitable[None]] | None = None) -> None:
        self.node_id = node_id
        self.metadata = metadata  # has .image and .listeners
        self.config = config or ReplicaConfig()
        self.dirs = LogDirs(log_dirs)
        self.segment_handles = SegmentHandles(self.config.segment_handles_open_max)
        self.hw_checkpoints = HighWatermarkCheckpoints(self.dirs.dirs)
        self.fetch_sessions = FetchSessionCache(self.config.fetch_sessions_max)  # consumers' (KIP-227)
        self.alter_partition = alter_partition
        self.broker_epoch = broker_epoch
        self.peer_call = peer_call  # (node_id, msg, timeout_s) -> response: fetchers' path to leaders
        # Returns once this broker's metadata has caught up with the quorum
        # (the controller acknowledged it, as Kafka's initial catch-up); no
        # role is taken from the image before (None: the image is current).
        self.catch_up = catch_up
        self.roles_followed = False  # the image's roles applied at least once
        self.roles_applied = trio.Event()  # set with roles_followed
        self.fetchers = None
        self.partitions: dict[PartitionKey, Partition] = {}
        # Metrics hooks (broker/node/node_metrics.py sets a real one).
        self.observer: ReplicaObserver = ReplicaObserver()
        self.by_name: dict[tuple[str, int], Partition] = {}
        self.roles: dict[PartitionKey, PartitionRole] = {}
        self.log = log.bind(node_id=node_id)
        self._touched: set[str] | None = None  # None: diff everything (start-up)
        self._image_event = trio.Event()
        self._progress = trio.Event()  # set (and replaced) when roles change
        self.wakeups = FetchWakeups()  # long-polling fetches, by partition
        self._dirty: set[PartitionKey] = set()
        self._dirty_event = trio.Event()
        self._deletes_send, self._deletes_recv = trio.open_memory_channel(self.config.deletes_pending_max)
        self._nursery: trio.Nursery | None = None
        # Follower hooks, set by the fetcher manager (item: replication).
        self.on_follow: Callable[[Partition], None] = lambda p: None
        self.on_unfollow: Callable[[PartitionKey], None] = lambda key: None
        self.role_changes_applied = 0
        self.isr_sync = IsrSync(self)  # shrink/expand through AlterPartition (isr_sync.py)
        self.alter_backoff = self.isr_sync.backoff

    # ------------------------------------------------------------ lifecycle
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self.metadata.listeners.append(self._on_metadata)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self.peer_call is not None:
                    from rafka.broker.replica.fetcher import FetcherManager

                    self.fetchers = FetcherManager(self, self.peer_call, nursery)
                for path in self.dirs.leftover_deletes():
                    self._deletes_send.send_nowait(path)
                for d, error in await trio.to_thread.run_sync(self.hw_checkpoints.load):
                    self.log.warning("replica.hw_checkpoint_unreadable", log_dir=str(d), error=error)
                if self.catch_up is None:
                    await self._begin_following()
                nursery.start_soon(self._follow_image)
                nursery.start_soon(self._flusher)
                nursery.start_soon(self.isr_sync.run)
                nursery.start_soon(housekeeping.deleter, self, self._deletes_recv)
                nursery.start_soon(housekeeping.retention_loop, self)
                nursery.start_soon(LogCleaner(self).run)
                task_status.started()
        finally:
            if self._on_metadata in self.metadata.listeners:
                self.metadata.listeners.remove(self._on_metadata)
            if self.roles_followed:  # clean shutdown: the HWs as they are now
                try:
                    self.hw_checkpoints.write(self._hw_by_dir())
                except OSError as exc:
                    self.log.error("replica.hw_checkpoint_failed", error=str(exc))
            for p in list(self.partitions.values()):
                try:
                    p.log.close()
                except LogError:
                    pass

    def _on_metadata(self, offset: int, records) -> None:
        """Metadata listener (called by the Raft apply loop; must not raise)."""
        if not records:
            return
        if self._touched is not None:
            self._touched |= touched_topic_ids(self.metadata.image, records)
            # A removed topic's id is still in current roles: keep it.
        self._image_event.set()

    async def _begin_following(self) -> None:
        """The first full diff of the image, then the HW checkpoints (before
        it, the checkpoint would be rewritten without the partitions not
        yet opened)."""
        self._touched = None
        await self._sync_roles()
        self.roles_followed = True
        self.roles_applied.set()
        self._nursery.start_soon(housekeeping.hw_checkpoint_loop, self)

    async def _follow_image(self) -> None:
        if not self.roles_followed:
            # A restarted broker's image may be far behind the quorum's: it
            # could name this broker leader of a partition that moved on
            # (answering reads and OffsetForLeaderEpoch from a stale log).
            await self.catch_up()
            self.log.info("replica.metadata_caught_up", metadata_offset=self.metadata.image.offset)
            await self._begin_following()
        image = self.metadata.image
        while True:
            with trio.move_on_after(IMAGE_CHECK_INTERVAL_S):
                await self._image_event.wait()
            if self.metadata.image is not image:
                # A snapshot was installed (restore replaces the image and
                # calls no listener): diff everything.
                image = self.metadata.image
                self._touched = None
            elif not self._image_event.is_set():
                continue
            self._image_event = trio.Event()
            await self._sync_roles()

    async def _sync_roles(self) -> None:
        touched, self._touched = self._touched, set()
        # (None: a full diff; the listener then fills a fresh set)
        image = self.metadata.image
        changes = diff_roles(self.roles, image, self.node_id, touched)
        configs = {tid for tid in (touched or ()) if tid in image.topics_by_id}
        if changes:
            await self._apply(changes)
            apply_changes(self.roles, changes)
            self.role_changes_applied += 1
        for tid in configs:
            self._refresh_configs(tid)
        self._roles_changed()

    # --------------------------------------------------------------- lookup
    def partition(self, topic: str, partition: int) -> Partition:
        p = self.by_name.get((topic, partition))
        if p is None:
            t = self.metadata.image.topic(topic)
            if t is None or not 0 <= partition < len(t.partitions):
                raise RafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"{topic}-{partition} does not exist")
            raise RafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, f"{topic}-{partition} is not hosted here")
        return p

    # --------------------------------------------------------------- append
    async def _await_leadership(self, topic: str, partition: int, timeout_s: float) -> None:
        """When the image already makes this broker the partition's leader
        but the role is not applied yet (a new topic's log still opening),
        wait for it (bounded) instead of refusing: a client that learned the
        leader from a quicker node would otherwise retry, and a
        non-idempotent producer's retries reorder its batches."""
        p = self.by_name.get((topic, partition))
        if p is not None and p.leader is not None:
            return
        with trio.move_on_after(timeout_s):
            while True:
                t = self.metadata.image.topic(topic)
                if t is None or not 0 <= partition < len(t.partitions) or t.partitions[partition].leader != self.node_id:
                    return
                p = self.by_name.get((topic, partition))
                if p is not None and p.leader is not None:
                    return
                await self._progress.wait()

    async def append(self, topic: str, partition: int, batch: bytes, *, acks: int, timeout_s: float,
                     leader_epoch: int | None = None,
                     on_appended: Callable[[], None] | None = None) -> AppendResult:
        """Append one producer batch on the leader. acks: 0, 1 or -1 (all).
        Raises RafkaError (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS with
        nothing appended, CORRUPT_MESSAGE, ..., REQUEST_TIMED_OUT).
        Everything up to the log append runs without a checkpoint (but
        for `_await_leadership`), so appends happen in call order;
        `on_appended` is called right after the batch is in the log
        (before an acks=all wait)."""
        if acks not in (0, 1, -1):
            raise RafkaError(ErrorCode.INVALID_REQUIRED_ACKS, f"acks {acks}")
        await self._await_leadership(topic, partition, min(timeout_s, LEADERSHIP_WAIT_S_MAX))
        p = self.partition(topic, partition)
        leader = p.check_leader(leader_epoch)
        h = validate_produce_batch(batch, max_message_bytes=p.settings.max_message_bytes)
        if acks == -1:
            leader.check_min_isr(p.settings.min_insync_replicas)
        dup = p.producers.check(h)
        if dup is not None:
            # A retried batch already in the log gets its original offsets,
            # but with acks=all only once the HW passed it, like any append:
            # its first attempt may still be unreplicated (it timed out on an
            # isolated leader), and acknowledging it now would acknowledge a
            # write that the next leader does not have (jepsen queue seed 101).
            result = AppendResult(dup.first_offset, dup.last_offset, -1, p.log.log_start_offset, duplicate=True)
            if acks == -1:
                await self._await_hw(leader, dup.last_offset, timeout_s, topic, partition)
            return result
        append_time = -1
        if p.settings.log_append_time:
            buf = bytearray(batch)
            append_time = wall_ms()
            stamp_log_append_time(buf, append_time)
            batch = bytes(buf)
        try:
            info = p.log.append(batch, leader_epoch=p.role.leader_epoch)
        except LogError as exc:
            raise RafkaError(ErrorCode.KAFKA_STORAGE_ERROR, str(exc)) from None
        p.producers.record(dataclasses.replace(h, base_offset=info.base_offset), info.base_offset)
        self.observer.bytes_in(topic, len(batch))
        if p.settings.write_caching:
            if leader.update_leader(p.log.log_end_offset):
                self._release(p)
        self._mark_dirty(p)
        self.wakeups.appended((topic, partition))
        if on_appended is not None:
            on_appended()
        result = AppendResult(info.base_offset, info.last_offset, append_time, p.log.log_start_offset)
        if acks == -1:
            await self._await_hw(leader, info.last_offset, timeout_s, topic, partition)
        return result

    async def _await_hw(self, leader, last_offset: int, timeout_s: float, topic: str, partition: int) -> None:
        """acks=all: return once the HW passed `last_offset` (durable on every
        ISR replica); REQUEST_TIMED_OUT after `timeout_s`, or the error that
        ended the leadership meanwhile."""
        waiter = _Waiter()
        if leader.add_waiter(last_offset, waiter):
            return
        with trio.move_on_after(timeout_s):
            await waiter.event.wait()
        if not waiter.event.is_set():
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT,
                             f"{topic}-{partition}: offset {last_offset} not replicated within {timeout_s}s")
        if waiter.error is not None:
            raise waiter.error

    def _release(self, p: Partition) -> None:
        """The leader's HW of `p` moved: acks=all waiters below it return,
        consumers' long polls on it re-read."""
        self.wakeups.high_watermark_moved((p.topic, p.index))
        if p.leader is None:
            return
        for w in p.leader.released():
            w.event.set()

    @staticmethod
    def _fail(waiters, code: ErrorCode, why: str) -> None:
        for w in waiters:
            w.error = RafkaError(code, why)
            w.event.set()

    def _roles_changed(self) -> None:
        self._progress.set()
        self._progress = trio.Event()
        self.wakeups.roles_changed()

    def _mark_dirty(self, p: Partition) -> None:
        self._dirty.add(p.role.key)
        self._dirty_event.set()

    # -------------------------------------------------------------- flusher
    async def _flusher(self) -> None:
        """Group commit: one pass fsyncs every partition appended since the
        last pass (in a worker thread); then durable offsets move HWs."""
        while True:
            await self._dirty_event.wait()
            self._dirty_event = trio.Event()
            keys, self._dirty = self._dirty, set()
            parts = [self.partitions[k] for k in keys if k in self.partitions]
            await self._flush(parts)

    async def _flush(self, parts: list[Partition]) -> None:
        """fsync `parts` (in worker threads); durable offsets move HWs."""
        started = trio.current_time()
        results = await trio.to_thread.run_sync(flush_all, parts)
        self.observer.fsync_seconds(trio.current_time() - started)
        for p, durable, error in results:
            if error is not None:
                self.log.error("replica.flush_failed", topic=p.topic, partition=p.index,
                               leader_epoch=p.role.leader_epoch, error=error)
                continue
            if p.leader is not None and not p.settings.write_caching and p.leader.update_leader(durable):
                self._release(p)

    async def wait_durable(self, parts: list[Partition]) -> None:
        """Make each partition's current log end durable: a follower's own
        fsync pass right now, not the flusher's next one (a pass already
        running would add its whole duration to the replication round)."""
        await self._flush([p for p in parts if self.partitions.get(p.role.key) is p])

    def _hw_by_dir(self):
        return group_by_dir(self.dirs.dirs, ((Path(p.log.dir_path), p.topic, p.index, p.high_watermark)
                                             for p in self.partitions.values()))

    # ---------------------------------------------------------------- fetch
    async def fetch(self, partitions: list[FetchPartition], *, replica_id: int = CONSUMER_REPLICA_ID,
                    max_wait_ms: int = 0, min_bytes: int = 1, max_bytes: int = 50 * 1024 * 1024
                    ) -> list[FetchResult]:
        """The one read path. Consumers (replica_id -1) read below the HW;
        a follower (replica_id = its node id) reads to the log end and its
        `durable_log_end_offset` counts toward the HW. Long polls wait for
        `min_bytes` up to `max_wait_ms`, a follower's woken by appends to its
        partitions, a consumer's by their HW moves, both by role changes."""
        follower = replica_id >= 0
        if follower:
            now = now_ms()
            for fp in partitions:
                p = self.by_name.get((fp.topic, fp.partition))
                if (p is not None and p.leader is not None and fp.durable_log_end_offset >= 0
                        and fp.current_leader_epoch in (-1, p.role.leader_epoch)):
                    if p.leader.update_follower(replica_id, fp.durable_log_end_offset, now):
                        self._release(p)
        deadline = trio.current_time() + max_wait_ms / 1000
        keys = None
        while True:
            results, total, errors = self._read_all(partitions, follower, max_bytes)
            if total >= min_bytes or errors or max_wait_ms <= 0 or trio.current_time() >= deadline:
                if not follower:
                    for res in results:
                        if res.records:
                            self.observer.bytes_out(res.topic, len(res.records))
                return results
            if keys is None:
                keys = [(fp.topic, fp.partition) for fp in partitions]
            await self.wakeups.wait(keys, follower=follower, deadline=deadline)

    def _read_all(self, partitions, follower: bool, max_bytes: int):
        results = []
        total = 0
        errors = False
        for fp in partitions:
            try:
                p = self.partition(fp.topic, fp.partition)
                res = reads.read_partition(p, fp, follower=follower, budget=max(max_bytes - total, 0),
                                           min_one=total == 0)
            except RafkaError as exc:
                errors = True
                res = FetchResult(fp.topic, fp.partition, int(exc.code), exc.message)
            total += len(res.records)
            results.append(res)
        return results, total, errors

    def list_offset(self, topic: str, partition: int, timestamp: int, current_leader_epoch: int = -1):
        return reads.list_offset(self.partition(topic, partition), timestamp, current_leader_epoch,
                                 self.config.producer_state_scan_bytes_max)

    def offset_for_leader_epoch(self, topic: str, partition: int, leader_epoch: int,
                                current_leader_epoch: int = -1) -> tuple[int, int]:
        return reads.offset_for_leader_epoch(self.partition(topic, partition), leader_epoch, current_leader_epoch)

    # ------------------------------------------------------------ follower
    def follower_append(self, p: Partition, data: bytes, leader_hw: int) -> None:
        """Append batches fetched from the leader (offsets and epochs kept).
        The fetcher fsyncs them at once (`wait_durable`) before its next
        fetch reports them; only write.caching partitions are left to the
        flusher (one fsync pass a round, not two racing for the file)."""
        if data:
            p.log.append(data, assign_offsets=False)
            for h in iter_headers(data):
                p.producers.record(h, h.base_offset)
            if p.settings.write_caching:
                self._mark_dirty(p)
        p.set_follower_hw(leader_hw)

    async def truncate(self, p: Partition, offset: int) -> int:
        """Truncate a follower's log to `offset` (KIP-101/279); producer
        state is rebuilt from what is left."""
        old = p.log.log_end_offset
        new_end = await trio.to_thread.run_sync(p.log.truncate_to, offset)
        await trio.to_thread.run_sync(p.rebuild_producers, self.config.producer_state_scan_bytes_max)
        if new_end != old:
            self.log.info("replica.truncated", topic=p.topic, partition=p.index,
                          leader_epoch=p.role.leader_epoch, from_offset=old, to_offset=new_end)
        return new_end

    def follower_durable_offset(self, p: Partition) -> int:
        return p.log.log_end_offset if p.settings.write_caching else p.durable_offset
