"""Reconnect backoff: exponential with "equal jitter" (a pure state machine).

Why: after a peer restarts, every node reconnecting at the same instant (or
hammering a dead address) wastes work; doubling the wait spreads reconnects
and jitter de-synchronizes them. Randomness is injected (``random.Random``)
so tests are deterministic.

Invariant: every delay lies in [ceiling/2, ceiling] where ceiling is
``min(initial_ms * 2**failures, max_ms)``; ``reset()`` after a success.
"""

from __future__ import annotations

import random


class Backoff:
    __slots__ = ("initial_ms", "max_ms", "rng", "failures")

    def __init__(self, initial_ms: int, max_ms: int, rng: random.Random) -> None:
        if initial_ms <= 0 or max_ms < initial_ms:
            raise ValueError("need 0 < initial_ms <= max_ms")
        self.initial_ms = initial_ms
        self.max_ms = max_ms
        self.rng = rng
        self.failures = 0

    def next_delay_ms(self) -> float:
        """The wait before the next attempt; counts one more failure."""
        ceiling = min(self.initial_ms * (1 << min(self.failures, 30)), self.max_ms)
        self.failures += 1
        half = ceiling / 2
        return half + self.rng.uniform(0, half)

    def reset(self) -> None:
        self.failures = 0
