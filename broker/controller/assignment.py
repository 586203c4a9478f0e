"""Replica assignment for new partitions: balanced over brokers and racks.

Brokers are laid out in a ring. Without racks the ring is the brokers sorted
by id; with racks (every eligible broker has one) it alternates racks
(r1's 1st broker, r2's 1st, r3's 1st, r1's 2nd, ...), Kafka's rack-
alternating list, so neighbours on the ring sit in different racks.

Partition at ring position g = start_index + p:
- its preferred leader (first replica) is ring[g % n], so leaders go round
  the ring and every n consecutive partitions put one leader on each broker;
- without racks, its followers are found by walking the ring from the leader with an
  offset `1 + (shift + k) % (n - 1)`, k = 0, 1, ..., where shift = g // n
  grows once per round, so the followers of one broker's partitions spread
  over all other brokers (when it fails, its load scatters);
- with racks, each follower goes to a rack not yet holding a replica of the
  partition (until every rack holds one, then another round), so replicas
  cover min(rf, racks) racks; among those racks it takes the broker holding
  the fewest replicas (per-rack heaps; ties go to the rack next after the
  leader's), which keeps brokers balanced even when racks differ in size.

Deterministic: the same brokers, count, rf and start index give the same
assignment. The controller continues the start index across topics (the
image's partition count), so many small topics stay balanced too.
Invariant: each replica list has rf distinct brokers, all from `brokers`.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from rafka.netproto.errors import ErrorCode, RafkaError


def broker_ring(brokers: Sequence[tuple[int, str | None]]) -> tuple[list[int], dict[int, str] | None]:
    """The ring order and, when every broker has a rack, the rack of each."""
    if not brokers:
        return [], None
    ids = sorted(b for b, _ in brokers)
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate broker ids")
    racks = {b: rack for b, rack in brokers}
    if any(rack is None for rack in racks.values()):
        return ids, None
    by_rack: dict[str, list[int]] = {}
    for b in ids:
        by_rack.setdefault(racks[b], []).append(b)
    groups = [by_rack[r] for r in sorted(by_rack)]
    ring = []
    for i in range(max(len(g) for g in groups)):
        ring.extend(g[i] for g in groups if i < len(g))
    return ring, racks  # type: ignore[return-value]


def assign_replicas(
    brokers: Sequence[tuple[int, str | None]],
    partitions: int,
    replication_factor: int,
    start_index: int = 0,
    replica_load: dict[int, int] | None = None,
) -> list[tuple[int, ...]]:
    """Replica lists for `partitions` new partitions; preferred leader first.

    `brokers`: (node_id, rack) of the eligible brokers; `replica_load`:
    replicas each already holds (used to balance followers across racks of
    unequal size). Raises RafkaError
    INVALID_REPLICATION_FACTOR when rf is not in [1, len(brokers)]."""
    n = len(brokers)
    if replication_factor < 1 or replication_factor > n:
        raise RafkaError(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            f"replication factor {replication_factor} needs 1..{n} available brokers",
        )
    ring, racks = broker_ring(brokers)
    out = []
    if racks is not None:
        loads = _RackLoads(ring, racks, replica_load or {})
        for p in range(partitions):
            out.append(_rack_aware(ring, racks, loads, start_index + p, replication_factor))
        return out
    for p in range(partitions):
        g = start_index + p
        lead = g % n
        shift = (g // n) % (n - 1) if n > 1 else 0
        replicas = [ring[lead]]
        for k in range(replication_factor - 1):
            replicas.append(ring[(lead + 1 + (shift + k) % (n - 1)) % n])
        out.append(tuple(replicas))
    return out


class _RackLoads:
    """Per-rack min-heaps of (replica load, ring position, broker), with lazy
    updates: an entry whose load is stale is re-pushed when popped."""

    def __init__(self, ring: list[int], racks: dict[int, str], load: dict[int, int]) -> None:
        self.load = {b: load.get(b, 0) for b in ring}
        self.racks = racks
        self.heaps: dict[str, list] = {}
        for pos, b in enumerate(ring):
            self.heaps.setdefault(racks[b], []).append((self.load[b], pos, b))
        for h in self.heaps.values():
            heapq.heapify(h)
        self.rack_names = sorted(self.heaps)

    def best(self, rack: str, chosen: set[int]) -> tuple[int, int, int] | None:
        """(load, ring position, broker) of the least-loaded broker of
        `rack` not in `chosen`, or None when the rack has none left."""
        h = self.heaps[rack]
        skipped = []
        found = None
        while h:
            load, pos, b = heapq.heappop(h)
            if load != self.load[b]:
                heapq.heappush(h, (self.load[b], pos, b))
                continue
            skipped.append((load, pos, b))
            if b not in chosen:
                found = (load, pos, b)
                break
        for item in skipped:
            heapq.heappush(h, item)
        return found

    def bump(self, b: int) -> None:
        self.load[b] += 1  # the stale heap entry is fixed when popped


def _rack_aware(ring, racks, loads: _RackLoads, g, rf) -> tuple[int, ...]:
    n = len(ring)
    leader = ring[g % n]
    loads.bump(leader)
    replicas = [leader]
    chosen = {leader}
    names = loads.rack_names
    ri = names.index(racks[leader])
    used = {racks[leader]}
    for _ in range(1, rf):
        if len(used) == len(names):
            used = set()  # every rack holds a replica: start another round
        best = None
        for step in range(1, len(names) + 1):
            rack = names[(ri + step) % len(names)]
            if rack in used:
                continue
            cand = loads.best(rack, chosen)
            if cand is not None and (best is None or cand[0] < best[0]):
                best = cand
        if best is None:  # only used racks have brokers left
            best = min(c for c in (loads.best(x, chosen) for x in names) if c is not None)
        b = best[2]
        loads.bump(b)
        replicas.append(b)
        chosen.add(b)
        used.add(racks[b])
    return tuple(replicas)
