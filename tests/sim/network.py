"""Simulated network for the Raft simulator.

Why: real networks drop, delay, duplicate and reorder packets and split into
partitions that need not be symmetric. The simulator decides every message's
fate here, from the seed's single `random.Random`, so a run replays exactly.

The network owns no clock and no queue: `route()` returns the logical times
at which copies of a message arrive (empty list: dropped; two entries: a
duplicate) and the caller schedules them. Reordering falls out of random
per-copy delays. A partition blocks directed links; a link is checked both
when a message is sent and when it would be delivered, so a partition that
starts while a message is in flight also cuts that message.

Invariants: delays are within [delay_min_ms, delay_max_ms] (spikes up to
delay_spike_ms); `blocked` only holds pairs of distinct node ids.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Iterable


class NetworkConfigError(ValueError):
    """A network setting is out of range."""


@dataclass
class NetworkConfig:
    """Fault rates and delay bounds; all rates are probabilities per copy."""

    drop_rate: float = 0.05
    duplicate_rate: float = 0.03
    delay_min_ms: int = 1
    delay_max_ms: int = 30
    delay_spike_rate: float = 0.02
    delay_spike_ms: int = 300
    copies_max: int = 2

    def validate(self) -> None:
        for name in ("drop_rate", "duplicate_rate", "delay_spike_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise NetworkConfigError(f"{name}={value} is not a probability")
        if not 0 < self.delay_min_ms <= self.delay_max_ms <= self.delay_spike_ms:
            raise NetworkConfigError("need 0 < delay_min_ms <= delay_max_ms <= delay_spike_ms")
        if self.copies_max < 1:
            raise NetworkConfigError("copies_max must be >= 1")


@dataclass
class SimNetwork:
    """Directed-link fault model. `blocked` holds (src, dst) pairs that cannot talk."""

    rng: random.Random
    config: NetworkConfig = field(default_factory=NetworkConfig)
    blocked: set[tuple[int, int]] = field(default_factory=set)
    faulty: bool = True
    description: str = "healed"
    # earlier partitions, newest last, so a fault can flip back to one
    # (Jepsen-style flip-flopping between two splits); bounded by history_max
    history: list[tuple[frozenset, str]] = field(default_factory=list)
    history_max: int = 4

    def __post_init__(self) -> None:
        self.config.validate()

    # -- fate of one message -------------------------------------------------

    def is_blocked(self, src: int, dst: int) -> bool:
        return (src, dst) in self.blocked

    def route(self, src: int, dst: int, now_ms: int) -> list[int]:
        """Arrival times of the copies of one message sent now (may be empty)."""
        if self.is_blocked(src, dst):
            return []
        cfg = self.config
        if not self.faulty:
            return [now_ms + self.rng.randint(cfg.delay_min_ms, cfg.delay_max_ms)]
        copies = 1
        while copies < cfg.copies_max and self.rng.random() < cfg.duplicate_rate:
            copies += 1
        arrivals = []
        for _ in range(copies):
            if self.rng.random() < cfg.drop_rate:
                continue
            if self.rng.random() < cfg.delay_spike_rate:
                delay = self.rng.randint(cfg.delay_max_ms, cfg.delay_spike_ms)
            else:
                delay = self.rng.randint(cfg.delay_min_ms, cfg.delay_max_ms)
            arrivals.append(now_ms + delay)
        return arrivals

    # -- partitions ----------------------------------------------------------

    def _remember(self) -> None:
        if self.blocked:
            self.history.append((frozenset(self.blocked), self.description))
            del self.history[: -self.history_max]

    def heal(self) -> None:
        self._remember()
        self.blocked = set()
        self.description = "healed"

    def restore(self, blocked: frozenset, description: str) -> None:
        """Re-apply a partition saved earlier (as `frozenset(blocked)`)."""
        self._remember()
        self.blocked = set(blocked)
        self.description = description

    def restore_previous(self) -> str | None:
        """Re-apply a randomly chosen earlier partition; None when there is none."""
        if not self.history:
            return None
        blocked, description = self.rng.choice(self.history)
        self._remember()
        self.blocked = set(blocked)
        self.description = description
        return description

    def split(self, groups: Iterable[Iterable[int]]) -> None:
        """Nodes talk only within their group (symmetric partition)."""
        self._remember()
        groups = [sorted(set(g)) for g in groups]
        owner = {n: i for i, g in enumerate(groups) for n in g}
        self.blocked = {
            (a, b) for a in owner for b in owner if a != b and owner[a] != owner[b]
        }
        self.description = "split " + " | ".join(",".join(map(str, g)) for g in groups)

    def one_way(self, src: int, dst: int) -> None:
        """Add a one-way cut: src's messages no longer reach dst (dst->src still works)."""
        if src == dst:
            raise NetworkConfigError("a node cannot be cut from itself")
        self.blocked.add((src, dst))
        self.description = f"{self.description}; one-way {src}->{dst}"

    def ring(self, order: list[int]) -> None:
        """Each node reaches only its two neighbours in `order` (a 'majority ring'
        on five nodes: everyone sees a majority, no two see the same one)."""
        self._remember()
        n = len(order)
        allowed = set()
        for i, a in enumerate(order):
            for b in (order[(i - 1) % n], order[(i + 1) % n]):
                allowed.add((a, b))
        self.blocked = {(a, b) for a in order for b in order if a != b and (a, b) not in allowed}
        self.description = "ring " + "-".join(map(str, order))

    # -- random partitions drawn from the seed --------------------------------

    def random_partition(self, nodes: list[int]) -> str:
        """Apply one randomly chosen partition shape; return its description."""
        nodes = sorted(nodes)
        if len(nodes) < 2:
            return self.description
        shape = self.rng.choice(["halves", "isolate", "one_way", "ring", "bridge"])
        if shape == "halves":
            shuffled = nodes[:]
            self.rng.shuffle(shuffled)
            cut = self.rng.randint(1, len(nodes) - 1)
            self.split([shuffled[:cut], shuffled[cut:]])
        elif shape == "isolate":
            lonely = self.rng.choice(nodes)
            self.split([[lonely], [n for n in nodes if n != lonely]])
        elif shape == "one_way":
            src, dst = self.rng.sample(nodes, 2)
            self.one_way(src, dst)
        elif shape == "ring" and len(nodes) >= 4:
            order = nodes[:]
            self.rng.shuffle(order)
            self.ring(order)
        else:
            # bridge: two halves that both reach one middle node.
            shuffled = nodes[:]
            self.rng.shuffle(shuffled)
            middle, rest = shuffled[0], shuffled[1:]
            cut = max(1, len(rest) // 2)
            left, right = rest[:cut], rest[cut:]
            self.split([left, right])
            self.description = f"bridge {middle} between {left} and {right}"
        return self.description
