"""Replica assignment for new partitions: balanced over brokers and racks.

Brokers are laid out in a ring. Without racks the ring is the brokers sorted
by id; with racks (every eligible broker has one) it alternates racks
(r1's 1st broker, r2's 1st, r3's 1st, r1's 2nd, ...), Kafka's rack-
alternating list, so neighbours on the ring sit in different racks.

Partition at ring position g = start_index + p:
- its preferred leader (first replica) is ring[g % n], so leaders go round
  the ring and every n consecutive partitions put one leader on each broker;
- its followers are found by walking the ring from the leader with an
  offset `1 + (shift + k) % (n - 1)`, k = 0, 1, ..., where shift = g // n
  grows once per round, so the followers of one broker's partitions spread
  over all other brokers (when it fails, its load scatters);
- with racks, a follower is skipped while its rack already holds a replica
  of the partition and some rack does not, so replicas cover min(rf, racks)
  racks.

Deterministic: the same brokers, count, rf and start index give the same
assignment. The controller continues the start index across topics (the
image's partition count), so many small topics stay balanced too.
Invariant: each replica list has rf distinct brokers, all from `brokers`.
"""

from __future__ import annotations

from collections.abc import Sequence

from netproto.errors import ErrorCode, RafkaError


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
) -> list[tuple[int, ...]]:
    """Replica lists for `partitions` new partitions; preferred leader first.

    `brokers`: (node_id, rack) of the eligible brokers. Raises RafkaError
    INVALID_REPLICATION_FACTOR when rf is not in [1, len(brokers)]."""
    n = len(brokers)
    if replication_factor < 1 or replication_factor > n:
        raise RafkaError(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            f"replication factor {replication_factor} needs 1..{n} available brokers",
        )
    ring, racks = broker_ring(brokers)
    rack_count = len(set(racks.values())) if racks else 0
    out = []
    for p in range(partitions):
        g = start_index + p
        lead = g % n
        shift = (g // n) % (n - 1) if n > 1 else 0
        replicas = [ring[lead]]
        if racks is None:
            for k in range(replication_factor - 1):
                replicas.append(ring[(lead + 1 + (shift + k) % (n - 1)) % n])
        else:
            _rack_aware_followers(ring, racks, rack_count, lead, shift, replication_factor, replicas)
        out.append(tuple(replicas))
    return out


def _rack_aware_followers(ring, racks, rack_count, lead, shift, rf, replicas) -> None:
    n = len(ring)
    used_racks = {racks[replicas[0]]}
    chosen = set(replicas)
    k = 0
    while len(replicas) < rf:
        # One pass over the other brokers in shifted order; take the first
        # not chosen whose rack is unused (or any, once every rack is used).
        picked = None
        for step in range(n - 1):
            b = ring[(lead + 1 + (shift + k + step) % (n - 1)) % n]
            if b in chosen:
                continue
            if len(used_racks) < rack_count and racks[b] in used_racks:
                continue
            picked, k = b, k + step + 1
            break
        assert picked is not None, "rf <= n guarantees an unchosen broker"
        replicas.append(picked)
        chosen.add(picked)
        used_racks.add(racks[picked])
        if len(used_racks) == rack_count and len(replicas) < rf:
            used_racks = set()  # every rack holds one: spread the next round too
            for b in replicas:
                pass
