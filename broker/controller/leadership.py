"""Partition leadership and ISR decisions (pure; the image is only read).

Rules (Kafka's, with the choices the issue leaves open made here):
- A leader must be *eligible* (registered, unfenced, not in controlled
  shutdown) and in the ISR. Elections take the first eligible ISR member in
  replica order, so the preferred replica wins whenever it can.
- When brokers go down (fenced, shut down, replaced by a new incarnation)
  they leave every ISR, and each partition they led elects a new leader;
  every election bumps the leader epoch (applying PartitionChangeRecord
  with a leader does that).
- The ISR never becomes empty: if every member goes down, the ISR is left
  as it was (the last in-sync members, ELR-like) and the partition becomes
  leaderless. When one of them returns it is elected; a replica outside the
  ISR is never elected unless the topic sets unclean.leader.election.enable,
  in which case the ISR restarts as just the new leader.
- With `rejoin_isr_on_unfence` (there are no data fetchers yet, so
  unfenced counts as caught up), when a broker comes back or a partition
  gets a leader again, every eligible replica of a partition that has a
  leader re-joins its ISR. Nobody joins the ISR of a leaderless partition
  that way (that would be an unclean election in disguise).
- Preferred-leader election moves leadership to the first replica when it
  is eligible and in the ISR; it scans only the image's `imbalanced()` set.

Cost: fencing a broker touches only the partitions that list it as a replica
(the image indexes them), never the whole image.
"""

from __future__ import annotations

from collections.abc import Iterable

from rafka.broker.controller.validation import unclean_election_enabled
from rafka.broker.metadata.image import MetadataImage, PartitionKey, PartitionState
from rafka.broker.metadata.records import LEADER_NONE, LEADER_NO_CHANGE, PartitionChangeRecord


class Eligibility:
    """Eligibility as it will be after this decision: `down` brokers are
    out, `up` brokers are in, everyone else as the image says."""

    def __init__(self, image: MetadataImage, down=frozenset(), up=frozenset()) -> None:
        self.image = image
        self.down = frozenset(down)
        self.up = frozenset(up)

    def __call__(self, node_id: int) -> bool:
        if node_id in self.down:
            return False
        if node_id in self.up:
            return True
        return self.image.is_eligible(node_id)


def _unclean(image: MetadataImage, topic_id: str) -> bool:
    t = image.topics_by_id.get(topic_id)
    return t is not None and unclean_election_enabled(t.configs)


def recompute(
    image: MetadataImage,
    s: PartitionState,
    eligible: Eligibility,
    *,
    rejoin: bool,
    force_unclean: bool = False,
) -> PartitionChangeRecord | None:
    """The change (if any) that brings partition `s` in line with the rules
    above under `eligible` (a healthy leader is kept). `force_unclean`:
    allow an out-of-ISR leader whatever the topic says (an operator's
    ElectLeaders of type unclean)."""
    down = eligible.down
    isr = [b for b in s.isr if b not in down]
    if not isr:
        isr = list(s.isr)  # never empty: keep the last in-sync members
    leader = s.leader
    if leader is not None and not eligible(leader):
        leader = None
    if leader is None:
        new = next((b for b in s.replicas if b in isr and eligible(b)), None)
        if new is not None:
            leader = new
        elif force_unclean or _unclean(image, s.topic_id):
            new = next((b for b in s.replicas if eligible(b)), None)
            if new is not None:
                leader, isr = new, [new]
    if rejoin and leader is not None:
        members = set(isr)
        members.update(b for b in s.replicas if eligible(b))
        isr = [b for b in s.replicas if b in members]
    new_isr = tuple(isr)
    leader_changed = leader != s.leader
    if not leader_changed and new_isr == s.isr:
        return None
    return PartitionChangeRecord(
        s.topic_id,
        s.partition,
        leader=(LEADER_NONE if leader is None else leader) if leader_changed else LEADER_NO_CHANGE,
        isr=new_isr if new_isr != s.isr else None,
    )


def _states(image: MetadataImage, keys: Iterable[PartitionKey]) -> list[PartitionState]:
    out = []
    for topic_id, p in sorted(keys):
        s = image.partition(topic_id, p)
        if s is not None:
            out.append(s)
    return out


def _changes_for(image: MetadataImage, brokers: frozenset[int], eligible: "Eligibility",
                 *, rejoin: bool) -> list[PartitionChangeRecord]:
    """Recompute every partition that has one of `brokers` as a replica."""
    keys: set[PartitionKey] = set()
    for b in brokers:
        keys |= image.partitions_of_replica(b)
    changes = []
    for s in _states(image, keys):
        rec = recompute(image, s, eligible, rejoin=rejoin)
        if rec is not None:
            changes.append(rec)
    return changes


def fence_changes(image: MetadataImage, down: Iterable[int]) -> list[PartitionChangeRecord]:
    """Partition changes for brokers `down` leaving (fence, shutdown, new
    incarnation): out of every ISR, new leaders where they led."""
    down = frozenset(down)
    return _changes_for(image, down, Eligibility(image, down=down), rejoin=False)


def unfence_changes(
    image: MetadataImage, up: Iterable[int], *, rejoin: bool
) -> list[PartitionChangeRecord]:
    """Partition changes for brokers `up` becoming eligible: leaderless
    partitions whose ISR holds one elect it; with `rejoin` they re-join the
    ISR of partitions that have a leader."""
    up = frozenset(up)
    return _changes_for(image, up, Eligibility(image, up=up), rejoin=rejoin)


def preferred_leader_changes(
    image: MetadataImage, keys: Iterable[PartitionKey] | None = None, *, limit: int | None = None
) -> list[PartitionChangeRecord]:
    """Move leadership back to preferred replicas that are eligible and in
    the ISR. `keys` None: every imbalanced partition (up to `limit`)."""
    eligible = Eligibility(image)
    candidates = image.imbalanced() if keys is None else keys
    changes = []
    for s in _states(image, candidates):
        pref = s.replicas[0]
        if s.leader == pref or pref not in s.isr or not eligible(pref):
            continue
        changes.append(PartitionChangeRecord(s.topic_id, s.partition, leader=pref))
        if limit is not None and len(changes) >= limit:
            break
    return changes


def leaderless_changes(
    image: MetadataImage,
    keys: Iterable[PartitionKey] | None = None,
    *,
    limit: int | None = None,
    rejoin: bool = False,
) -> list[PartitionChangeRecord]:
    """Elect leaders for leaderless partitions where the rules now allow
    one (an ISR member is eligible, or unclean election was enabled)."""
    eligible = Eligibility(image)
    candidates = image.leaderless() if keys is None else keys
    changes = []
    for s in _states(image, candidates):
        if s.leader is not None:
            continue
        rec = recompute(image, s, eligible, rejoin=rejoin)
        if rec is not None and rec.leader != LEADER_NO_CHANGE:
            changes.append(rec)
            if limit is not None and len(changes) >= limit:
                break
    return changes
