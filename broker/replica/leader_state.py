"""LeaderState: what a partition leader knows about its followers (pure).

Kafka's Partition/Replica bookkeeping without I/O: each follower's durable
log end (the offset it reported as fsynced, or as in memory for
write.caching topics) and the last time it was caught up; the high
watermark; the ISR shrink/expand decisions the shell sends to the active
controller (AlterPartition); and the acks=all waiters the high watermark
releases.

Invariants:
- `high_watermark` never decreases while this object lives (a leader epoch);
  it is min(log end) over the *maximal* ISR: the committed ISR plus a pending
  expansion, and still including a member whose removal is pending (Kafka's
  rule: while an AlterPartition is in flight, count every replica that may
  be in the ISR once it commits).
- at most one AlterPartition is pending at a time.
- a follower is caught up at time t when the log end it reports is at least
  the leader's log end at t, or at least the leader's log end at its previous
  fetch (then it was caught up as of that previous fetch: Kafka's
  lastCaughtUpTimeMs rule).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from typing import Any

from rafka.netproto.errors import ErrorCode, RafkaError

REPLICA_LAG_TIME_MAX_MS = 30_000


@dataclass
class FollowerState:
    log_end_offset: int = -1  # durable log end the follower reported; -1 unknown
    last_caught_up_ms: int = 0
    last_fetch_ms: int | None = None
    last_fetch_leader_leo: int = -1


class LeaderState:
    def __init__(
        self,
        node_id: int,
        *,
        leader_epoch: int,
        partition_epoch: int,
        replicas: tuple[int, ...],
        isr: tuple[int, ...],
        leader_log_end_offset: int,
        high_watermark: int,
        epoch_start_offset: int,
        now_ms: int,
        lag_time_max_ms: int = REPLICA_LAG_TIME_MAX_MS,
        waiters_max: int = 10_000,
    ) -> None:
        assert node_id in isr, "a leader is in its own ISR"
        self.node_id = node_id
        self.leader_epoch = leader_epoch
        self.partition_epoch = partition_epoch
        self.replicas = tuple(replicas)
        self.isr = tuple(isr)
        # Offset where this leader epoch starts: a follower below it has not
        # reached the current epoch and may not join the ISR.
        self.epoch_start_offset = epoch_start_offset
        self.lag_time_max_ms = lag_time_max_ms
        self.waiters_max = waiters_max
        self.leader_log_end_offset = leader_log_end_offset
        self._hw = min(high_watermark, leader_log_end_offset)
        # A new leader gives every follower a full lag window (Kafka resets
        # lastCaughtUpTime to now on becoming leader).
        self.followers: dict[int, FollowerState] = {
            r: FollowerState(last_caught_up_ms=now_ms) for r in self.replicas if r != node_id
        }
        self.pending_isr: tuple[int, ...] | None = None
        self._waiters: list[tuple[int, int, Any]] = []
        self._seq = itertools.count()
        self._recompute_hw()

    # ----------------------------------------------------------------- reads
    @property
    def high_watermark(self) -> int:
        return self._hw

    def maximal_isr(self) -> tuple[int, ...]:
        if self.pending_isr is None:
            return self.isr
        extra = tuple(r for r in self.pending_isr if r not in self.isr)
        return self.isr + extra

    def check_min_isr(self, min_insync_replicas: int) -> None:
        """NOT_ENOUGH_REPLICAS when the committed ISR is smaller than
        min.insync.replicas (checked before an acks=all append)."""
        if len(self.isr) < min_insync_replicas:
            raise RafkaError(ErrorCode.NOT_ENOUGH_REPLICAS,
                             f"isr {list(self.isr)} is smaller than min.insync.replicas {min_insync_replicas}")

    # ---------------------------------------------------------------- inputs
    def update_leader(self, durable_log_end_offset: int) -> bool:
        """The leader's own log end became durable up to this offset (or, for
        write.caching topics, was appended). True when the HW moved."""
        self.leader_log_end_offset = max(self.leader_log_end_offset, durable_log_end_offset)
        return self._recompute_hw()

    def update_follower(self, follower_id: int, log_end_offset: int, now_ms: int) -> bool:
        """A fetch from `follower_id` reporting its durable log end. True
        when the HW moved. Unknown replicas are ignored (a stale fetcher)."""
        f = self.followers.get(follower_id)
        if f is None:
            return False
        leader_leo = self.leader_log_end_offset
        if log_end_offset >= leader_leo:
            f.last_caught_up_ms = now_ms
        elif f.last_fetch_ms is not None and log_end_offset >= f.last_fetch_leader_leo:
            f.last_caught_up_ms = max(f.last_caught_up_ms, f.last_fetch_ms)
        f.log_end_offset = log_end_offset
        f.last_fetch_ms = now_ms
        f.last_fetch_leader_leo = leader_leo
        return self._recompute_hw()

    def apply_isr(self, isr: tuple[int, ...], partition_epoch: int) -> bool:
        """The image committed a new ISR for this leader epoch (our own
        AlterPartition, or the controller's). Clears the pending change."""
        if partition_epoch < self.partition_epoch:
            return False
        self.isr = tuple(isr)
        self.partition_epoch = partition_epoch
        self.pending_isr = None
        return self._recompute_hw()

    def alter_failed(self) -> None:
        """The pending AlterPartition was refused or timed out."""
        self.pending_isr = None

    # ------------------------------------------------------------- decisions
    def isr_change(self, now_ms: int) -> tuple[int, ...] | None:
        """The ISR to propose now (shrink first, then expand), or None.
        Marks it pending; the shell sends AlterPartition and calls
        `apply_isr` (on commit) or `alter_failed`."""
        if self.pending_isr is not None:
            return None
        out = self.shrink_candidates(now_ms)
        if out:
            new = tuple(r for r in self.isr if r not in out)
        else:
            add = self.expand_candidates()
            if not add:
                return None
            new = tuple(r for r in self.replicas if r in self.isr or r in add)
        self.pending_isr = new
        return new

    def shrink_candidates(self, now_ms: int) -> list[int]:
        """ISR followers not caught up within lag_time_max_ms."""
        return [r for r in self.isr if r != self.node_id
                and now_ms - self.followers[r].last_caught_up_ms > self.lag_time_max_ms]

    def expand_candidates(self) -> list[int]:
        """Replicas outside the ISR whose durable log end reached the HW in
        the current leader epoch."""
        hw = self._hw
        out = []
        for r in self.replicas:
            if r in self.isr or r == self.node_id:
                continue
            leo = self.followers[r].log_end_offset
            if leo >= hw and leo >= self.epoch_start_offset:
                out.append(r)
        return out

    # -------------------------------------------------------------- waiters
    def add_waiter(self, last_offset: int, token: Any) -> bool:
        """Wait until the HW passes `last_offset`. True when already passed
        (nothing stored). More than `waiters_max` waiting raises
        REQUEST_TIMED_OUT at once (backpressure, never an unbounded heap)."""
        if last_offset < self._hw:
            return True
        if len(self._waiters) >= self.waiters_max:
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT,
                             f"{len(self._waiters)} acks=all appends already waiting (waiters_max)")
        heapq.heappush(self._waiters, (last_offset, next(self._seq), token))
        return False

    def released(self) -> list[Any]:
        """Tokens whose offset is now below the HW, in offset order."""
        out = []
        hw = self._hw
        while self._waiters and self._waiters[0][0] < hw:
            out.append(heapq.heappop(self._waiters)[2])
        return out

    def drain_waiters(self) -> list[Any]:
        """Every waiting token (leadership lost: answer them all)."""
        out = [w[2] for w in sorted(self._waiters)]
        self._waiters.clear()
        return out

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    # ------------------------------------------------------------- internal
    def _recompute_hw(self) -> bool:
        low = self.leader_log_end_offset
        for r in self.maximal_isr():
            if r == self.node_id:
                continue
            f = self.followers.get(r)
            leo = -1 if f is None else f.log_end_offset
            if leo < low:
                low = leo
        if low > self._hw:
            self._hw = low
            return True
        return False
