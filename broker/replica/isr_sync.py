"""The leader's side of ISR changes: shrink and expand through the
controller (Kafka's AlterPartition).

Every ISR tick (half of replica.lag.time.max.ms, at most 1 s) each partition
this broker leads is asked for the ISR it wants now (`LeaderState.isr_change`:
drop followers behind for lag_time_max_ms, add back those caught up in this
epoch); a change is proposed to the active controller, which checks the
partition epoch and commits a PartitionChangeRecord. The image then carries
the new ISR back to the leader; nothing here changes the ISR directly.

A refused or failed proposal backs off per partition (alter_backoff.py) so a
controller that keeps saying no is asked once per backoff step, not once per
tick, and an identical failure is logged once per step.
"""

from __future__ import annotations

import trio

from rafka.broker.controller.requests import AlterPartitionRequest
from rafka.broker.replica.alter_backoff import AlterPartitionBackoff
from rafka.broker.replica.partition import Partition
from rafka.netproto.errors import RafkaError


def now_ms() -> int:
    """trio's clock in ms (a MockClock in tests): the replica layer's time."""
    return int(trio.current_time() * 1000)


class IsrSync:
    def __init__(self, manager) -> None:
        self.manager = manager
        tick_ms = self.tick_ms()
        self.backoff = AlterPartitionBackoff(tick_ms, max(manager.config.alter_partition_backoff_max_ms, tick_ms))

    def tick_ms(self) -> int:
        return int(min(self.manager.config.lag_time_max_ms / 2, 1000))

    async def run(self) -> None:
        m = self.manager
        interval = self.tick_ms() / 1000
        while True:
            await trio.sleep(interval)
            now = now_ms()
            for p in list(m.partitions.values()):
                if p.leader is None or not self.backoff.ready(p.role.key, now):
                    continue
                new = p.leader.isr_change(now)
                if new is not None:
                    m._nursery.start_soon(self.propose, p, new)

    async def propose(self, p: Partition, new_isr: tuple[int, ...]) -> None:
        """One AlterPartition for `p`; the outcome arrives through the image."""
        m = self.manager
        leader = p.leader
        role = p.role
        epoch = m.broker_epoch()
        if m.alter_partition is None or epoch is None or leader is None:
            if leader is not None:
                leader.alter_failed()
            return
        req = AlterPartitionRequest(node_id=m.node_id, broker_epoch=epoch, topic=role.topic,
                                    partition=role.partition, leader_epoch=role.leader_epoch,
                                    partition_epoch=leader.partition_epoch, new_isr=list(new_isr))
        m.log.info("replica.alter_partition", topic=role.topic, partition=role.partition,
                   leader_epoch=role.leader_epoch, isr=list(leader.isr), new_isr=list(new_isr),
                   partition_epoch=leader.partition_epoch)
        try:
            with trio.fail_after(m.config.alter_partition_timeout_ms / 1000):
                resp = await m.alter_partition(req)
        except (RafkaError, trio.TooSlowError, OSError, Exception) as exc:  # noqa: BLE001 - retried after a backoff
            verdict = self.backoff.failed(role.key, now_ms(), str(exc) or type(exc).__name__)
            if verdict.log:
                m.log.warning("replica.alter_partition_failed", topic=role.topic, partition=role.partition,
                              leader_epoch=role.leader_epoch, error=str(exc), retry_in_ms=verdict.delay_ms,
                              unlogged_repeats=verdict.unlogged)
            if p.leader is leader:
                leader.alter_failed()
            return
        if p.leader is leader and leader.pending_isr is not None and resp.partition_epoch <= leader.partition_epoch:
            leader.alter_failed()  # nothing to commit (already so): no image update will clear it
            self.backoff.failed(role.key, now_ms(), "nothing to commit")
        else:
            self.backoff.reset(role.key)
