"""One hosted partition: its PartitionLog, role, leader bookkeeping and
idempotent producer state. No trio: the ReplicaManager drives it and owns
the waiting; blocking log calls here are the short ones (append to the page
cache, read); open, flush and truncate run in worker threads.

Invariants:
- `leader` (a LeaderState) is set exactly while this broker leads the
  partition in `role.leader_epoch`;
- `high_watermark <= log.log_end_offset`;
- `durable_offset` is the log's own flushed offset, read when used: the
  log raises it after an fsync and lowers it in the same critical section
  as a truncation, so no flush result computed before a truncation can be
  reported after it.
"""

from __future__ import annotations

from rafka.broker.replica.leader_state import LeaderState
from rafka.broker.replica.produce_validation import iter_headers
from rafka.broker.replica.producer_state import ProducerStateTable
from rafka.broker.replica.roles import PartitionRole
from rafka.broker.replica.settings import TopicSettings
from rafka.log.partition_log import PartitionLog
from rafka.netproto.errors import ErrorCode, RafkaError


class Partition:
    def __init__(self, role: PartitionRole, log: PartitionLog, settings: TopicSettings,
                 producers_max: int, *, high_watermark: int = 0) -> None:
        self.role = role
        self.log = log
        self.settings = settings
        self.leader: LeaderState | None = None
        self.producers = ProducerStateTable(producers_max)
        # The HW as last known: from the HW checkpoint on open, then (a
        # follower) from the leader's fetch responses.
        self._hw = high_watermark
        # Follower: waiting for OffsetForLeaderEpoch truncation before fetching.
        self.needs_truncation = True

    @property
    def durable_offset(self) -> int:
        return self.log.flushed_offset

    @property
    def topic(self) -> str:
        return self.role.topic

    @property
    def index(self) -> int:
        return self.role.partition

    @property
    def high_watermark(self) -> int:
        if self.leader is not None:
            return self.leader.high_watermark
        return min(self._hw, self.log.log_end_offset)

    def set_follower_hw(self, hw: int) -> None:
        self._hw = max(self._hw, min(hw, self.log.log_end_offset))

    # ------------------------------------------------------------- roles
    def become_leader(self, role: PartitionRole, node_id: int, now_ms: int, lag_time_max_ms: int,
                      waiters_max: int) -> None:
        leo = self.log.log_end_offset
        self.log.start_leader_epoch(role.leader_epoch)
        self.role = role
        self.leader = LeaderState(
            node_id, leader_epoch=role.leader_epoch, partition_epoch=role.partition_epoch,
            replicas=role.replicas, isr=role.isr,
            leader_log_end_offset=leo if self.settings.write_caching else self.durable_offset,
            high_watermark=self.high_watermark, epoch_start_offset=leo, now_ms=now_ms,
            lag_time_max_ms=lag_time_max_ms, waiters_max=waiters_max)
        self.needs_truncation = False

    def become_follower(self, role: PartitionRole) -> list:
        """Returns the acks=all waiters of a lost leadership."""
        waiters = self.leader.drain_waiters() if self.leader is not None else []
        if self.leader is not None:
            self._hw = self.leader.high_watermark
        self.leader = None
        self.role = role
        self.needs_truncation = True
        return waiters

    # -------------------------------------------------------------- checks
    def check_leader(self, current_leader_epoch: int | None = None) -> LeaderState:
        if self.leader is None:
            raise RafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER,
                             f"{self.topic}-{self.index} is led by {self.role.leader}")
        self.check_epoch(current_leader_epoch)
        return self.leader

    def check_epoch(self, current_leader_epoch: int | None) -> None:
        if current_leader_epoch is None or current_leader_epoch < 0:
            return
        if current_leader_epoch < self.role.leader_epoch:
            raise RafkaError(ErrorCode.FENCED_LEADER_EPOCH,
                             f"leader epoch {current_leader_epoch} is older than {self.role.leader_epoch}")
        if current_leader_epoch > self.role.leader_epoch:
            raise RafkaError(ErrorCode.UNKNOWN_LEADER_EPOCH,
                             f"leader epoch {current_leader_epoch} is newer than {self.role.leader_epoch}")

    # ------------------------------------------------------------ producers
    def rebuild_producers(self, scan_bytes_max: int) -> None:
        """Rebuild idempotent producer state from the log's tail (header-only).
        Reads from the oldest segment base within `scan_bytes_max` of the end."""
        log = self.log
        start = log.log_start_offset
        bases = [b for b in log.segment_base_offsets() if b >= start] or [start]
        # Walk back over segments until the budget is used (segment sizes are
        # not exposed per base, so approximate with the whole log's size).
        offset = bases[0] if log.size_bytes <= scan_bytes_max else bases[-1]
        headers = []
        end = log.log_end_offset
        budget = scan_bytes_max
        while offset < end and budget > 0:
            chunk = log.read(offset, min(budget, 4 * 1024 * 1024))
            if not chunk:
                break
            last = None
            for h in iter_headers(chunk):
                headers.append(h)
                last = h
            if last is None:
                break
            offset = last.next_offset
            budget -= len(chunk)
        self.producers.rebuild(headers)
