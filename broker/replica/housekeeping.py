"""The replica manager's background chores, each a loop over its
partitions that never touches the produce or fetch path:

- `hw_checkpoint_loop`: Kafka's checkpointHighWatermarks; every
  hw_checkpoint_interval_ms each log dir's replication-offset-checkpoint is
  rewritten (only when it changed; hw_checkpoint.py writes it crash-atomically);
- `deleter`: removes the directories of deleted topics, which the manager
  renamed aside at once (bounded by deletes_pending_max);
- `retention_loop`: retention by time and bytes every retention_check_interval_ms.
"""

from __future__ import annotations

import trio

from rafka.broker.replica.log_dirs import remove_tree
from rafka.log.errors import LogError

async def hw_checkpoint_loop(manager) -> None:
    while True:
        await trio.sleep(manager.config.hw_checkpoint_interval_ms / 1000)
        try:
            await trio.to_thread.run_sync(manager.hw_checkpoints.write, manager._hw_by_dir())
        except OSError as exc:
            manager.log.error("replica.hw_checkpoint_failed", error=str(exc))


async def deleter(manager, paths: trio.MemoryReceiveChannel) -> None:
    async for path in paths:
        await trio.to_thread.run_sync(remove_tree, path)
        manager.log.info("replica.dir_removed", path=str(path))


async def retention_loop(manager) -> None:
    while True:
        await trio.sleep(manager.config.retention_check_interval_ms / 1000)
        for p in list(manager.partitions.values()):
            try:
                deleted = await trio.to_thread.run_sync(p.log.enforce_retention)
            except LogError as exc:
                manager.log.warning("replica.retention_failed", topic=p.topic, partition=p.index, error=str(exc))
                continue
            if deleted:
                manager.log.info("replica.retention", topic=p.topic, partition=p.index,
                                 leader_epoch=p.role.leader_epoch, segments_deleted=deleted,
                                 log_start_offset=p.log.log_start_offset)
