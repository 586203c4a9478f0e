"""Replica fetchers: one task per source broker carrying every partition
this broker follows from it (Kafka's ReplicaFetcherThread).

Per partition a follower first truncates (OffsetForLeaderEpoch, see
truncation.py), then fetches from its log end. Every fetch reports the
follower's durable log end: after appending fetched batches the fetcher
waits for the group-commit flusher before its next fetch, so the leader
only ever counts fsynced offsets (write.caching topics: appended ones).

A response is applied only if the partition is still followed from this
source in the same leader epoch (a role change may land meanwhile).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
import trio

from rafka.broker.replica import messages as m
from rafka.broker.replica.partition import Partition
from rafka.broker.replica.produce_validation import iter_headers
from rafka.broker.replica.roles import PartitionKey
from rafka.broker.replica.truncation import truncation_offset
from rafka.log.errors import LogError
from rafka.netproto.errors import ErrorCode

log = structlog.get_logger("rafka.replica.fetcher")

PeerCall = Callable[[int, object, float], Awaitable]
BACKOFF_S = 0.2
CALL_SLACK_S = 5.0


class FetcherManager:
    def __init__(self, manager, call: PeerCall, nursery: trio.Nursery) -> None:
        self.manager = manager
        self.call = call
        self.nursery = nursery
        self.fetchers: dict[int, SourceFetcher] = {}
        manager.on_follow = self.add
        manager.on_unfollow = self.remove

    def add(self, p: Partition) -> None:
        leader = p.role.leader
        assert leader is not None and leader != self.manager.node_id
        f = self.fetchers.get(leader)
        if f is None:
            f = self.fetchers[leader] = SourceFetcher(self.manager, leader, self.call)
            self.nursery.start_soon(f.run)
        if len(f.partitions) >= self.manager.config.fetcher_partitions_max:
            log.error("fetcher.full", node_id=self.manager.node_id, leader=leader, topic=p.topic,
                      partition=p.index, leader_epoch=p.role.leader_epoch)
            return
        f.partitions[p.role.key] = p
        f.wake()

    def remove(self, key: PartitionKey) -> None:
        for f in self.fetchers.values():
            f.partitions.pop(key, None)


class SourceFetcher:
    def __init__(self, manager, leader_id: int, call: PeerCall) -> None:
        self.manager = manager
        self.leader_id = leader_id
        self.call = call
        self.partitions: dict[PartitionKey, Partition] = {}
        self._wake = trio.Event()
        self.log = log.bind(node_id=manager.node_id, leader=leader_id)

    def wake(self) -> None:
        self._wake.set()

    def _current(self, key: PartitionKey, epoch: int) -> Partition | None:
        p = self.partitions.get(key)
        if p is None or p.role.leader_epoch != epoch or p.leader is not None:
            return None
        return p

    async def run(self) -> None:
        while True:
            if not self.partitions:
                await self._wake.wait()
                self._wake = trio.Event()
                continue
            try:
                trunc = [p for p in self.partitions.values() if p.needs_truncation]
                if trunc:
                    await self._truncate(trunc)
                ready = [p for p in self.partitions.values() if not p.needs_truncation]
                if ready:
                    if not await self._fetch(ready):
                        await trio.sleep(BACKOFF_S)
                elif trunc:
                    await trio.sleep(BACKOFF_S)
            except (OSError, trio.TooSlowError, LogError, Exception) as exc:  # noqa: BLE001 - peer down: retry
                self.log.info("fetcher.retry", error=f"{type(exc).__name__}: {exc}")
                await trio.sleep(BACKOFF_S)

    async def _truncate(self, parts: list[Partition]) -> None:
        asked = {}
        queries = []
        for p in parts:
            epoch = p.log.leader_epochs.latest_epoch
            if epoch < 0:  # nothing written under any epoch: nothing can diverge
                if p.log.log_end_offset > 0:
                    await self.manager.truncate(p, min(p.high_watermark, p.log.log_end_offset))
                p.needs_truncation = False
                continue
            asked[p.role.key] = (epoch, p.role.leader_epoch)
            queries.append(m.EpochQuery(p.topic, p.index, epoch, p.role.leader_epoch))
        if not queries:
            return
        req = m.OffsetForLeaderEpochRequest(self.manager.node_id, queries)
        resp = await self.call(self.leader_id, req, CALL_SLACK_S)
        for a in resp.partitions:
            key = next((k for k, p in self.partitions.items() if p.topic == a.topic and p.index == a.partition), None)
            if key is None or key not in asked:
                continue
            my_epoch, role_epoch = asked[key]
            p = self._current(key, role_epoch)
            if p is None or not p.needs_truncation:
                continue
            if a.error_code:
                self.log.info("fetcher.epoch_query_refused", topic=p.topic, partition=p.index,
                              leader_epoch=role_epoch, error=ErrorCode(a.error_code).name)
                continue
            target = truncation_offset(my_epoch, a.leader_epoch, a.end_offset,
                                       log_end_offset=p.log.log_end_offset, high_watermark=p.high_watermark,
                                       own_end_for=p.log.leader_epochs.end_offset_for)
            if target < p.log.log_end_offset:
                await self.manager.truncate(p, target)
            else:  # nothing to cut, but an epoch this replica led may start at its log end
                await trio.to_thread.run_sync(p.log.forget_epochs_at_end)
            if self._current(key, role_epoch) is p:
                p.needs_truncation = False
                self.log.info("fetcher.truncated", topic=p.topic, partition=p.index, leader_epoch=role_epoch,
                              asked_epoch=my_epoch, leader_answer_epoch=a.leader_epoch,
                              leader_answer_end=a.end_offset, log_end_offset=p.log.log_end_offset)

    async def _fetch(self, parts: list[Partition]) -> bool:
        """One fetch round; False when nothing useful came back (back off)."""
        cfg = self.manager.config
        epochs = {p.role.key: p.role.leader_epoch for p in parts}
        req = m.FetchRequest(
            replica_id=self.manager.node_id, max_wait_ms=cfg.fetch_wait_max_ms, min_bytes=1,
            max_bytes=cfg.fetch_response_bytes_max,
            partitions=[m.ReplicaFetchPartition(p.topic, p.index, p.log.log_end_offset, p.role.leader_epoch,
                                                self.manager.follower_durable_offset(p),
                                                cfg.fetch_partition_bytes_max) for p in parts])
        resp = await self.call(self.leader_id, req, cfg.fetch_wait_max_ms / 1000 + CALL_SLACK_S)
        by_name = {(p.topic, p.index): p for p in parts}
        appended = []
        useful = False
        for r in resp.partitions:
            p0 = by_name.get((r.topic, r.partition))
            if p0 is None:
                continue
            p = self._current(p0.role.key, epochs[p0.role.key])
            if p is None:
                continue
            if r.error_code:
                await self._on_error(p, r)
                continue
            useful = True
            data = r.records
            leo = p.log.log_end_offset
            if data:
                first = next(iter_headers(data), None)
                if first is None or first.base_offset != leo:
                    self.log.warning("fetcher.unaligned", topic=p.topic, partition=p.index,
                                     leader_epoch=p.role.leader_epoch, log_end_offset=leo,
                                     first_offset=None if first is None else first.base_offset)
                    p.needs_truncation = True
                    continue
                try:
                    self.manager.follower_append(p, data, r.high_watermark)
                except LogError as exc:
                    self.log.error("fetcher.append_failed", topic=p.topic, partition=p.index,
                                   leader_epoch=p.role.leader_epoch, error=str(exc))
                    p.needs_truncation = True
                    continue
                appended.append(p)
            else:
                p.set_follower_hw(r.high_watermark)
        if appended:
            await self.manager.wait_durable(appended)
        return useful

    async def _on_error(self, p: Partition, r: m.ReplicaFetchResult) -> None:
        code = ErrorCode(r.error_code)
        if code == ErrorCode.OFFSET_OUT_OF_RANGE and r.log_start_offset > p.log.log_end_offset:
            # The leader's retention passed our end: restart empty at its start.
            await trio.to_thread.run_sync(p.log.delete_before, r.log_start_offset)
            self.log.info("fetcher.restarted_at_leader_start", topic=p.topic, partition=p.index,
                          leader_epoch=p.role.leader_epoch, log_start_offset=r.log_start_offset)
            return
        if code == ErrorCode.OFFSET_OUT_OF_RANGE:
            p.needs_truncation = True
        self.log.debug("fetcher.partition_error", topic=p.topic, partition=p.index,
                       leader_epoch=p.role.leader_epoch, error=code.name)
