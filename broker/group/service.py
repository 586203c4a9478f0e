"""The group coordinator service of one broker (trio shell).

- Follows leadership of __consumer_offsets partitions through the
  ReplicaManager (the authority on what this broker leads): on becoming a
  partition's leader in a leader epoch it starts a Shard that replays the
  partition (requests get COORDINATOR_LOAD_IN_PROGRESS meanwhile); every
  request checks, at the moment it is served, that the ReplicaManager still
  has this broker leading that partition in that epoch, so a lost
  leadership is NOT_COORDINATOR at once, before any background task notices.
- Creates __consumer_offsets on first use (offsets_topic_num_partitions,
  RF min(3, live brokers)).
- Offset commits are acknowledged only after their records are durable on
  the ISR (acks=all through the shard's writer).
"""

from __future__ import annotations

import time

import structlog
import trio

from rafka.broker.controller import requests as rq
from rafka.broker.group import offsets as offset_rules
from rafka.broker.group import records
from rafka.broker.group.config import GroupConfig
from rafka.broker.group.errors import GroupError, GroupErrorCode as E
from rafka.broker.group.group import CommittedOffset, Group, GroupState as S
from rafka.broker.group.partitioner import OFFSETS_TOPIC, partition_for
from rafka.broker.group.shard import Parked, Shard
from rafka.netproto.errors import RafkaError

log = structlog.get_logger("rafka.group")

FOLLOW_INTERVAL_S = 0.2
# Kafka's offsets.topic.segment.bytes and cleanup.policy=compact: group
# state never ages out; the cleaner (broker/replica/cleaner.py) keeps the
# latest record per group / committed offset.
OFFSETS_TOPIC_CONFIGS = {"cleanup.policy": "compact", "segment.bytes": str(100 * 1024 * 1024)}


class GroupService:
    def __init__(self, node_id: int, replicas, metadata, config: GroupConfig | None = None, *,
                 route_to_controller=None) -> None:
        self.node_id = node_id
        self.replicas = replicas
        self.metadata = metadata  # .image, .listeners
        self.config = config or GroupConfig()
        self.route_to_controller = route_to_controller
        self.shards: dict[int, Shard] = {}
        self.log = log.bind(node_id=node_id)
        self._nursery: trio.Nursery | None = None
        self._image_event = trio.Event()
        self._creating = False
        self._wall_base = time.time() * 1000

    def now_ms(self) -> int:
        """Wall-clock ms advanced by trio's clock (MockClock controls it;
        comparable with commit timestamps stored in the log)."""
        return int(self._wall_base + trio.current_time() * 1000 - self._trio_base)

    # ------------------------------------------------------------ lifecycle
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self._trio_base = trio.current_time() * 1000
        self.metadata.listeners.append(self._on_metadata)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                while True:
                    self._follow()
                    with trio.move_on_after(FOLLOW_INTERVAL_S):
                        await self._image_event.wait()
                    self._image_event = trio.Event()
        finally:
            if self._on_metadata in self.metadata.listeners:
                self.metadata.listeners.remove(self._on_metadata)
            for s in self.shards.values():
                s.close()

    def _on_metadata(self, offset, records_) -> None:
        self._image_event.set()

    def _led(self) -> dict[int, int]:
        """Offsets partition -> leader epoch, for those this broker leads now."""
        out = {}
        for (topic, p), part in list(self.replicas.by_name.items()):
            if topic == OFFSETS_TOPIC and part.leader is not None:
                out[p] = part.role.leader_epoch
        return out

    def _follow(self) -> None:
        led = self._led()
        for p, shard in list(self.shards.items()):
            if led.get(p) != shard.leader_epoch or shard.closed:
                shard.close()
                del self.shards[p]
        for p, epoch in led.items():
            if p not in self.shards:
                shard = Shard(self.replicas, OFFSETS_TOPIC, p, epoch, self.config, self.now_ms, self.log)
                self.shards[p] = shard
                self.log.info("group.partition_loading", partition=p, leader_epoch=epoch)
                self._nursery.start_soon(shard.run)

    # -------------------------------------------------------------- routing
    def num_partitions(self) -> int | None:
        t = self.metadata.image.topic(OFFSETS_TOPIC)
        return None if t is None else len(t.partitions)

    def partition_of(self, group_id: str) -> int | None:
        n = self.num_partitions()
        return None if n is None else partition_for(group_id, n)

    def coordinator_of(self, group_id: str) -> int | None:
        """The broker leading the group's partition (image), None when unknown."""
        t = self.metadata.image.topic(OFFSETS_TOPIC)
        if t is None:
            return None
        return t.partitions[partition_for(group_id, len(t.partitions))].leader

    async def ensure_topic(self) -> None:
        """Create __consumer_offsets if the image has none (one attempt in flight)."""
        if self.num_partitions() is not None or self._creating or self.route_to_controller is None:
            return
        self._creating = True
        try:
            live = sum(1 for b in self.metadata.image.brokers.values() if not b.fenced)
            rf = max(1, min(self.config.offsets_topic_replication_factor_max, live))
            req = rq.CreateTopicsRequest(topics=[rq.CreatableTopic(
                name=OFFSETS_TOPIC, num_partitions=self.config.offsets_topic_num_partitions,
                replication_factor=rf, configs=dict(OFFSETS_TOPIC_CONFIGS))])
            resp = await self.route_to_controller(req, 10.0)
            self.log.info("group.offsets_topic_create", partitions=self.config.offsets_topic_num_partitions,
                          replication_factor=rf, error_code=resp.results[0].error_code)
        except RafkaError as exc:
            self.log.warning("group.offsets_topic_create_failed", error=exc.code.name)
        finally:
            self._creating = False

    def shard_for(self, group_id: str) -> Shard:
        """The loaded shard serving `group_id` here, checked against the
        ReplicaManager now; raises GroupError."""
        p = self.partition_of(group_id)
        if p is None:
            raise GroupError(E.COORDINATOR_NOT_AVAILABLE, f"{OFFSETS_TOPIC} does not exist yet")
        part = self.replicas.by_name.get((OFFSETS_TOPIC, p))
        if part is None or part.leader is None:
            raise GroupError(E.NOT_COORDINATOR, f"broker {self.node_id} does not lead {OFFSETS_TOPIC}-{p}")
        shard = self.shards.get(p)
        if shard is None or shard.closed or shard.leader_epoch != part.role.leader_epoch:
            self._image_event.set()
            raise GroupError(E.COORDINATOR_LOAD_IN_PROGRESS, f"{OFFSETS_TOPIC}-{p} is loading")
        if not shard.loaded:
            raise GroupError(E.COORDINATOR_LOAD_IN_PROGRESS, f"{OFFSETS_TOPIC}-{p} is loading")
        return shard

    def loaded_shards(self) -> list[Shard]:
        led = self._led()
        return [s for p, s in self.shards.items() if s.loaded and not s.closed and led.get(p) == s.leader_epoch]

    # ------------------------------------------------------------- protocol
    async def join(self, **kw):
        shard = self.shard_for(kw["group_id"])
        token = Parked()
        return await shard.park(token, shard.core.join(self.now_ms(), token=token, **kw))

    async def sync(self, **kw):
        shard = self.shard_for(kw["group_id"])
        token = Parked()
        return await shard.park(token, shard.core.sync(self.now_ms(), token=token, **kw))

    def heartbeat(self, **kw) -> int:
        shard = self.shard_for(kw["group_id"])
        err = shard.core.heartbeat(self.now_ms(), **kw)
        shard.pump()
        return err

    def leave(self, group_id: str, members):
        shard = self.shard_for(group_id)
        out = shard.core.leave(self.now_ms(), group_id, members)
        shard.pump()
        return out

    # -------------------------------------------------------------- offsets
    async def commit_offsets(self, group_id: str, generation_id: int, member_id: str,
                             group_instance_id: str | None, items: list[tuple[str, int, int, int, str | None]]
                             ) -> list[int]:
        """items: (topic, partition, offset, leader_epoch, metadata); returns
        a Kafka error per item. Raises GroupError for the whole request."""
        if len(items) > self.config.commit_partitions_max:
            raise GroupError(E.INVALID_REQUEST, f"more than {self.config.commit_partitions_max} partitions")
        shard = self.shard_for(group_id)
        now = self.now_ms()
        g = shard.core.validate_commit(now, group_id, generation_id, member_id, group_instance_id)
        shard.pump()
        errors = []
        accepted: list[tuple[str, int, CommittedOffset]] = []
        room = self.config.offsets_max - offset_rules.total_offsets(shard.core)
        for topic, partition, offset, epoch, metadata in items:
            err = offset_rules.check_partition(shard.core, g, metadata)
            if err == E.NONE and (topic, partition) not in g.offsets:
                if room <= 0:
                    err = E.COORDINATOR_NOT_AVAILABLE
                room -= 1
            if err == E.NONE and self.metadata.image.topic(topic) is None:
                err = E.UNKNOWN_TOPIC_OR_PARTITION
            errors.append(err)
            if err == E.NONE:
                accepted.append((topic, partition, CommittedOffset(offset, epoch, metadata or "", now)))
        if not accepted:
            return errors
        for t, p, _ in accepted:
            g.pending_commits[(t, p)] += 1
        try:
            code = await shard.write([(records.offset_key(group_id, t, p), records.offset_value(v))
                                      for t, p, v in accepted])
        finally:
            for t, p, _ in accepted:
                g.pending_commits[(t, p)] -= 1
                if g.pending_commits[(t, p)] <= 0:
                    del g.pending_commits[(t, p)]
        if code == E.NONE and not shard.closed:
            for t, p, v in accepted:
                offset_rules.apply_commit(g, t, p, v)
        self.log.info("group.offsets_committed", group=group_id, generation=generation_id,
                      partitions=len(accepted), error=E(code).name)
        return [code if e == E.NONE else e for e in errors]

    def fetch_offsets(self, group_id: str, partitions: list[tuple[str, int]] | None, require_stable: bool):
        """[(topic, partition, CommittedOffset | None, error)]; partitions
        None: every committed partition."""
        shard = self.shard_for(group_id)
        g = shard.core.group(group_id)
        if partitions is None:
            partitions = sorted(g.offsets) if g is not None else []
        out = []
        for t, p in partitions:
            value, err = offset_rules.fetch(g, t, p, require_stable)
            out.append((t, p, value, err))
        return out

    async def delete_offsets(self, group_id: str, partitions: list[tuple[str, int]]):
        shard = self.shard_for(group_id)
        g = shard.core.group(group_id)
        if g is None:
            raise GroupError(E.GROUP_ID_NOT_FOUND)
        results = []
        gone = []
        for t, p in partitions:
            err = offset_rules.deletable(g, t)
            results.append((t, p, err))
            if err == E.NONE and (t, p) in g.offsets:
                gone.append((t, p))
        for t, p in gone:
            g.offsets.pop((t, p), None)
        if gone:
            code = await shard.write([(records.offset_key(group_id, t, p), None) for t, p in gone])
            if code != E.NONE:
                raise GroupError(E(code))
        return results

    # ---------------------------------------------------------------- admin
    def list_groups(self) -> list[Group]:
        return [g for s in self.loaded_shards() for g in s.core.groups.values() if not g.is_(S.DEAD)]

    def describe(self, group_id: str) -> Group | None:
        return self.shard_for(group_id).core.group(group_id)

    async def delete_group(self, group_id: str) -> int:
        shard = self.shard_for(group_id)
        g = shard.core.group(group_id)
        offsets = list(g.offsets) if g is not None else []
        err = shard.core.delete_group(self.now_ms(), group_id)
        if err != E.NONE:
            return err
        shard.core.take_writes()  # the tombstone is written below with the offsets'
        recs = [(records.offset_key(group_id, t, p), None) for t, p in offsets]
        recs.append((records.group_key(group_id), None))
        return await shard.write(recs)
