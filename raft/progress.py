"""The leader's view of one member's replication (etcd-raft's Progress).

States:
- PROBE: we do not know where the member's log matches ours; send at most one
  AppendEntries per heartbeat interval (or per response) and back off on
  rejection.
- REPLICATE: the log matches up to `match`; stream entries optimistically,
  at most `inflight_msgs_max` unacknowledged messages (the pipelining window).
- SNAPSHOT: the entries the member needs are compacted; a snapshot is being
  sent chunk by chunk (stop-and-wait), no appends meanwhile.

Invariants: match < next; in REPLICATE, every in-flight index is in
(match, next).
"""

from __future__ import annotations

import enum
from collections import deque


class ProgressState(str, enum.Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Inflights:
    """The last index of each unacknowledged AppendEntries, oldest first."""

    def __init__(self, inflight_msgs_max: int) -> None:
        self.inflight_msgs_max = inflight_msgs_max
        self._q: deque[int] = deque()

    def add(self, last_index: int) -> None:
        assert not self.full(), "inflight window overflow"
        self._q.append(last_index)

    def free_le(self, index: int) -> None:
        while self._q and self._q[0] <= index:
            self._q.popleft()

    def free_first_one(self) -> None:
        if self._q:
            self._q.popleft()

    def full(self) -> bool:
        return len(self._q) >= self.inflight_msgs_max

    def reset(self) -> None:
        self._q.clear()

    def __len__(self) -> int:
        return len(self._q)


class Progress:
    def __init__(self, next_index: int, inflight_msgs_max: int, is_learner: bool) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.probe_sent = False
        self.inflights = Inflights(inflight_msgs_max)
        self.is_learner = is_learner
        self.recent_active = False
        self.last_contact_ticks = 0
        # SNAPSHOT state
        self.pending_snapshot = 0
        self.snapshot_offset = 0
        self.snapshot_idle_ticks = 0

    def __repr__(self) -> str:
        return f"Progress(match={self.match}, next={self.next}, state={self.state.value})"

    def _reset_state(self, state: ProgressState) -> None:
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snapshot_offset = 0
        self.snapshot_idle_ticks = 0
        self.state = state
        self.inflights.reset()

    def become_probe(self) -> None:
        if self.state == ProgressState.SNAPSHOT:
            pending = self.pending_snapshot
            self._reset_state(ProgressState.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset_state(ProgressState.PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        self._reset_state(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset_state(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def maybe_update(self, index: int) -> bool:
        """An acknowledgement up to index; False if stale."""
        updated = False
        if self.match < index:
            self.match = index
            updated = True
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def optimistic_update(self, last_index: int) -> None:
        self.next = last_index + 1

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """A rejection of the append after `rejected`; False if stale."""
        if self.state == ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        if self.state == ProgressState.PROBE:
            return self.probe_sent
        if self.state == ProgressState.REPLICATE:
            return self.inflights.full()
        return True
