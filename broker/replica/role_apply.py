"""Applying role changes to a broker's partitions: part of the
ReplicaManager (a mixin, so the manager module keeps to the image
following, the append and fetch paths and the flusher).

- become leader / follower with the image's leader epoch (acks=all
  waiters of a lost leadership fail with NOT_LEADER_OR_FOLLOWER);
- open a partition's log on first use: a directory left by an older
  incarnation of the topic (deleted and re-created while this broker was
  down) is set aside first, the HW starts from the checkpoint, producer
  state is rebuilt from the log;
- stop serving a partition no longer hosted; a deleted topic's directory
  is renamed aside at once and removed in the background;
- apply topic config alters to open logs.
"""

from __future__ import annotations

from pathlib import Path

import trio

from rafka.broker.replica.hw_checkpoint import initial_high_watermark
from rafka.broker.replica.isr_sync import now_ms
from rafka.broker.replica.partition import Partition
from rafka.broker.replica.partition_identity import IdentityError, claim, stray_incarnation
from rafka.broker.replica.roles import PartitionRole, RoleChanges
from rafka.broker.replica.settings import log_config, topic_settings
from rafka.log.errors import LogError
from rafka.log.partition_log import PartitionLog
from rafka.netproto.errors import ErrorCode


class RoleApplier:
    """The ReplicaManager's role changes (see the module docstring); the
    attributes it uses are the manager's."""

    async def _apply(self, changes: RoleChanges) -> None:
        image = self.metadata.image
        for role in changes.stopped + changes.become_leader + changes.become_follower + changes.updated:
            self.alter_backoff.reset(role.key)  # the partition's metadata changed
        for role in changes.stopped:
            await self._stop(role)
        for topic_id, name in changes.deleted_topics:
            self.log.info("replica.topic_deleted", topic=name, topic_id=topic_id)
        if changes.deleted_topics:
            # At once, not at the next interval: a topic re-created under the
            # same name must never start from the deleted one's HW after a crash.
            try:
                await trio.to_thread.run_sync(self.hw_checkpoints.write, self._hw_by_dir())
            except OSError as exc:
                self.log.error("replica.hw_checkpoint_failed", error=str(exc))
        for role in changes.become_leader:
            p = await self._get_or_open(role, image)
            if p is None:
                continue
            p.become_leader(role, self.node_id, now_ms(), self.config.lag_time_max_ms,
                            self.config.ack_waiters_max)
            # Batches it fetched as a follower may not be fsynced yet (its
            # fetcher's round was cut short): flush now, so its own durable
            # end, and the HW, reach its log end without an append.
            self._mark_dirty(p)
            self.on_unfollow(role.key)
            self.log.info("replica.became_leader", topic=role.topic, partition=role.partition,
                          leader_epoch=role.leader_epoch, isr=list(role.isr),
                          log_end_offset=p.log.log_end_offset, high_watermark=p.high_watermark)
        for role in changes.become_follower:
            p = await self._get_or_open(role, image)
            if p is None:
                continue
            self._fail(p.become_follower(role), ErrorCode.NOT_LEADER_OR_FOLLOWER, "leadership moved")
            self.log.info("replica.became_follower", topic=role.topic, partition=role.partition,
                          leader_epoch=role.leader_epoch, leader=role.leader,
                          log_end_offset=p.log.log_end_offset)
            self.on_unfollow(role.key)
            if role.leader is not None and role.leader != self.node_id:
                self.on_follow(p)
        for role in changes.updated:
            p = self.partitions.get(role.key)
            if p is None:
                continue
            old = p.role
            p.role = role
            if p.leader is not None:
                if role.replicas != old.replicas:
                    p.become_leader(role, self.node_id, now_ms(), self.config.lag_time_max_ms,
                                    self.config.ack_waiters_max)
                elif p.leader.apply_isr(role.isr, role.partition_epoch):
                    self._release(p)
                self.log.info("replica.isr_updated", topic=role.topic, partition=role.partition,
                              leader_epoch=role.leader_epoch, isr=list(role.isr),
                              partition_epoch=role.partition_epoch)

    async def _get_or_open(self, role: PartitionRole, image) -> Partition | None:
        p = self.partitions.get(role.key)
        if p is not None:
            return p
        t = image.topics_by_id.get(role.topic_id)
        configs = dict(t.configs) if t is not None else {}
        path = self.dirs.locate(role.topic, role.partition)
        try:
            stray = await trio.to_thread.run_sync(stray_incarnation, path, role.topic_id)
            if stray is not None:  # an old incarnation's records (deleted while we were down)
                self.log.warning("replica.stray_dir", topic=role.topic, partition=role.partition,
                                 topic_id=role.topic_id, stray_topic_id=stray, path=str(path))
                self._remove_aside(path, stray)
                path = self.dirs.locate(role.topic, role.partition)
            plog = await trio.to_thread.run_sync(
                lambda: PartitionLog.open(path, log_config(configs), logger=self.log.bind(
                    topic=role.topic, partition=role.partition), handles=self.segment_handles))
            await trio.to_thread.run_sync(claim, path, role.topic_id)
        except (LogError, OSError, IdentityError) as exc:
            self.log.error("replica.open_failed", topic=role.topic, partition=role.partition,
                           leader_epoch=role.leader_epoch, error=str(exc))
            return None
        hw = initial_high_watermark(self.hw_checkpoints.checkpointed(path, role.topic, role.partition),
                                    plog.log_start_offset, plog.log_end_offset)
        p = Partition(role, plog, topic_settings(configs), self.config.producers_max, high_watermark=hw)
        await trio.to_thread.run_sync(p.rebuild_producers, self.config.producer_state_scan_bytes_max)
        self.partitions[role.key] = p
        self.by_name[(role.topic, role.partition)] = p
        return p

    async def _stop(self, role: PartitionRole) -> None:
        p = self.partitions.pop(role.key, None)
        self.on_unfollow(role.key)
        if p is None:
            return
        self.by_name.pop((role.topic, role.partition), None)
        self._dirty.discard(role.key)
        self._fail(p.become_follower(role), ErrorCode.NOT_LEADER_OR_FOLLOWER, "partition no longer hosted")
        deleted = role.topic_id not in self.metadata.image.topics_by_id
        path = Path(p.log.dir_path)
        try:
            await trio.to_thread.run_sync(p.log.close)
        except LogError as exc:
            self.log.warning("replica.close_failed", topic=role.topic, partition=role.partition, error=str(exc))
        self.log.info("replica.stopped", topic=role.topic, partition=role.partition,
                      leader_epoch=role.leader_epoch, deleted=deleted)
        if deleted:
            self._remove_aside(path, role.topic_id)

    def _remove_aside(self, path: Path, topic_id: str) -> None:
        """Rename a partition dir aside at once; removed in the background."""
        aside = self.dirs.rename_aside(path, topic_id)
        if aside is not None:
            try:
                self._deletes_send.send_nowait(aside)
            except trio.WouldBlock:
                self.log.warning("replica.delete_deferred", path=str(aside))  # removed on next start

    def _refresh_configs(self, topic_id: str) -> None:
        t = self.metadata.image.topics_by_id.get(topic_id)
        if t is None:
            return
        settings = topic_settings(t.configs)
        cfg = log_config(t.configs)
        for p in self.partitions.values():
            if p.role.topic_id == topic_id and (p.settings != settings or p.log.config != cfg):
                p.settings = settings
                # PartitionLog reads `config` on every append and retention
                # run (log/config.py: a frozen dataclass replaced on change).
                p.log.config = cfg
                self.log.info("replica.configs_applied", topic=p.topic, partition=p.index,
                              leader_epoch=p.role.leader_epoch)
