"""Nemeses: which faults, when, and against which links or nodes. Pure.

Why pure: the fault schedule must be a function of the seed alone (same
seed, same schedule) so a failing run can be replayed. Everything here takes
an injected `random.Random` and returns plain data; cluster.py applies it.
The only runtime fact a schedule cannot know is who leads the quorum; events
that target the leader carry `node="leader"` and the driver resolves it when
the fault starts.

Kinds (a fault window each; the following heal window undoes it):
- partition-halves: two random halves that cannot talk.
- partition-leader: the Raft leader alone vs the rest.
- partition-ring: majority ring; node i can send only to the next m-1 nodes
  of a random ring order (m a majority), so every node "sees" a different
  majority and no pair talks both ways when n=3.
- partition-bridge: two halves plus one node that talks to both.
- kill-random / kill-leader: kill -9 at the start, restart at the end.
- kill-all: kill -9 every node at once at the start, restart them all at
  the end (nothing survives in any process's memory).
- pause-random / pause-leader: SIGSTOP at the start, SIGCONT at the end.
- delay: every node-to-node link slowed by the same random delay.
- lose-unfsynced: a node (random or the leader) is killed -9 and its lazyfs
  (tests/jepsen/fuse) drops everything not fsynced, a power cut of that
  machine; or, half the time (`torn_seed`), a random part of it (each page
  and each directory old or new, as a kernel may have written some back);
  restarted at the end. Needs FUSE (root, /dev/fuse, pyfuse3).
- lose-unfsynced-all: the same for every node at once (kill-all plus the
  drop: a power cut of the whole cluster).
Families: partition, kill, pause, delay, lose, all.

Schedules (`ScheduleConfig.kind_order`): "random" (the default) gives each
fault window a kind drawn at random from those chosen; "ordered" gives the
windows the chosen kinds in the order given, cycling, and refuses a time
limit too short for every kind to get a window (`ordered_min_time_limit_s`),
so a short run is sure to inject each kind.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Iterable

KINDS = (
    "partition-halves",
    "partition-leader",
    "partition-ring",
    "partition-bridge",
    "kill-random",
    "kill-leader",
    "kill-all",
    "pause-random",
    "pause-leader",
    "delay",
    "lose-unfsynced",
    "lose-unfsynced-all",
)

FAMILIES: dict[str, tuple[str, ...]] = {
    "partition": tuple(k for k in KINDS if k.startswith("partition-")),
    "kill": ("kill-random", "kill-leader", "kill-all"),
    "pause": ("pause-random", "pause-leader"),
    "delay": ("delay",),
    "lose": ("lose-unfsynced", "lose-unfsynced-all"),
    "all": KINDS,
    "none": (),
}

PARTITION_MODES = ("drop", "blackhole")
KIND_ORDERS = ("random", "ordered")


class NemesisError(ValueError):
    """An unknown nemesis name or an impossible schedule."""


def parse_nemeses(spec: str, keep_order: bool = False) -> tuple[str, ...]:
    """'partition,kill-leader' -> the kinds, in KINDS order, deduplicated;
    with `keep_order`, in the order first named (a family in KINDS order),
    for an ordered schedule."""
    chosen: list[str] = []
    for name in (s.strip() for s in spec.split(",")):
        if not name:
            continue
        if name in FAMILIES:
            named = FAMILIES[name]
        elif name in KINDS:
            named = (name,)
        else:
            valid = ", ".join(list(FAMILIES) + list(KINDS))
            raise NemesisError(f"unknown nemesis {name!r} (valid: {valid})")
        chosen.extend(k for k in named if k not in chosen)
    return tuple(chosen) if keep_order else tuple(k for k in KINDS if k in chosen)


@dataclass(frozen=True)
class FaultEvent:
    """One fault window [start_s, end_s) of `kind` with its parameters."""

    index: int
    kind: str
    start_s: float
    end_s: float
    params: dict = field(default_factory=dict, hash=False, compare=True)

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.kind}({shown})" if shown else self.kind

    def to_json(self) -> dict:
        return {"index": self.index, "kind": self.kind, "start_s": self.start_s,
                "end_s": self.end_s, "params": self.params}


@dataclass(frozen=True)
class ScheduleConfig:
    time_limit_s: float
    fault_s: tuple[float, float] = (5.0, 15.0)
    heal_s: tuple[float, float] = (5.0, 15.0)
    delay_ms: tuple[int, int] = (50, 500)
    kind_order: str = "random"  # one of KIND_ORDERS


def ordered_min_time_limit_s(n_kinds: int, fault_s: tuple[float, float],
                             heal_s: tuple[float, float]) -> float:
    """The shortest time limit under which an ordered schedule of `n_kinds`
    surely gives every kind a whole fault window, however long the windows
    come out: the first heal window, then n faults with n-1 heals between,
    each at its longest."""
    if n_kinds <= 0:
        return 0.0
    return heal_s[1] + n_kinds * fault_s[1] + (n_kinds - 1) * heal_s[1]


def make_schedule(
    kinds: Iterable[str], nodes: list[int], config: ScheduleConfig, rng: random.Random
) -> list[FaultEvent]:
    """Fault windows alternating with heal windows until the time limit,
    starting with a heal window so the workload warms up. Deterministic in
    (kinds, nodes, config, rng state). Each window's kind is drawn at random
    from `kinds`, or (kind_order "ordered") the next of `kinds` in order,
    cycling; an ordered schedule that cannot fit every kind raises."""
    kinds = tuple(kinds)
    for kind in kinds:
        if kind not in KINDS:
            raise NemesisError(f"unknown nemesis kind {kind!r}")
    if not nodes:
        raise NemesisError("no nodes")
    for lo, hi in (config.fault_s, config.heal_s):
        if not 0 < lo <= hi:
            raise NemesisError(f"bad window range {lo}..{hi}")
    if config.kind_order not in KIND_ORDERS:
        raise NemesisError(f"unknown schedule {config.kind_order!r} "
                           f"(valid: {', '.join(KIND_ORDERS)})")
    ordered = config.kind_order == "ordered"
    if ordered:
        need_s = ordered_min_time_limit_s(len(kinds), config.fault_s, config.heal_s)
        if config.time_limit_s < need_s:
            raise NemesisError(
                f"an ordered schedule of {len(kinds)} kinds needs a time limit of at least "
                f"{need_s:g} s with fault windows {config.fault_s} s and heal windows "
                f"{config.heal_s} s, got {config.time_limit_s:g} s")
    events: list[FaultEvent] = []
    if not kinds:
        return events
    t = rng.uniform(*config.heal_s)
    while t < config.time_limit_s:
        kind = kinds[len(events) % len(kinds)] if ordered else rng.choice(kinds)
        end = min(t + rng.uniform(*config.fault_s), config.time_limit_s)
        events.append(FaultEvent(len(events), kind, round(t, 3), round(end, 3),
                                 _params(kind, nodes, config, rng)))
        t = end + rng.uniform(*config.heal_s)
    return events


def _params(kind: str, nodes: list[int], config: ScheduleConfig, rng: random.Random) -> dict:
    nodes = sorted(nodes)
    if kind == "partition-halves":
        shuffled = nodes[:]
        rng.shuffle(shuffled)
        cut = rng.randint(1, max(1, len(nodes) // 2))
        return {"sides": [sorted(shuffled[:cut]), sorted(shuffled[cut:])],
                "mode": rng.choice(PARTITION_MODES)}
    if kind == "partition-leader":
        return {"node": "leader", "mode": rng.choice(PARTITION_MODES)}
    if kind == "partition-ring":
        order = nodes[:]
        rng.shuffle(order)
        return {"ring": order, "mode": rng.choice(PARTITION_MODES)}
    if kind == "partition-bridge":
        order = nodes[:]
        rng.shuffle(order)
        bridge = order[0]
        rest = order[1:]
        half = len(rest) // 2
        return {"bridge": bridge, "sides": [sorted(rest[:half]), sorted(rest[half:])],
                "mode": rng.choice(PARTITION_MODES)}
    if kind in ("kill-random", "pause-random"):
        return {"node": rng.choice(nodes)}
    if kind in ("kill-leader", "pause-leader"):
        return {"node": "leader"}
    if kind == "kill-all":
        return {}
    if kind == "delay":
        return {"delay_ms": rng.randint(*config.delay_ms)}
    if kind == "lose-unfsynced-all":
        torn = rng.random() < 0.5
        return {"torn_seed": rng.randrange(1 << 31) if torn else None}
    if kind == "lose-unfsynced":
        torn = rng.random() < 0.5
        return {"node": rng.choice([*nodes, "leader"]),
                "torn_seed": rng.randrange(1 << 31) if torn else None}
    raise NemesisError(f"unknown nemesis kind {kind!r}")


# --- grudges: which directed node links to fault --------------------------

def _between(a: Iterable[int], b: Iterable[int]) -> set[tuple[int, int]]:
    a, b = list(a), list(b)
    return {(x, y) for x in a for y in b if x != y} | {(y, x) for x in a for y in b if x != y}


def grudge(event: FaultEvent, nodes: list[int], leader: int | None) -> set[tuple[int, int]]:
    """The directed links (src, dst) a partition event faults. `leader` is the
    resolved leader for leader-targeted events (None: nothing to isolate)."""
    kind, p = event.kind, event.params
    if kind == "partition-halves":
        return _between(p["sides"][0], p["sides"][1])
    if kind == "partition-leader":
        if leader is None:
            return set()
        return _between([leader], [n for n in nodes if n != leader])
    if kind == "partition-bridge":
        return _between(p["sides"][0], p["sides"][1])
    if kind == "partition-ring":
        return ring_grudge(p["ring"])
    raise NemesisError(f"{kind} is not a partition")


def ring_grudge(ring: list[int]) -> set[tuple[int, int]]:
    """Node at ring position i may send only to positions i+1..i+m-1 (m a
    majority); every other directed link is faulted."""
    n = len(ring)
    majority = n // 2 + 1
    allowed = {(ring[i], ring[(i + d) % n]) for i in range(n) for d in range(1, majority)}
    return {(a, b) for a in ring for b in ring if a != b and (a, b) not in allowed}


def reachable(nodes: list[int], blocked: set[tuple[int, int]]) -> dict[int, set[int]]:
    """For reports and tests: whom each node can send to (itself included)."""
    return {a: {b for b in nodes if a == b or (a, b) not in blocked} for a in nodes}
