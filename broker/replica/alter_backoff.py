"""AlterPartition retry backoff per partition (pure, time injected).

A leader proposes an ISR change on its ISR tick. When the controller keeps
refusing it (say "brokers [3] are not eligible to join the isr" while
broker 3 is fenced), retrying every tick floods the controller and the log
(one node logged ~18 warnings/s for 12 minutes). So each partition's
failures double its wait before the next proposal, from `initial_ms` up to
`max_ms`; a success or a metadata change of that partition resets it.

Logging: a failure is worth a warning when its error differs from the last
one, or when the backoff grew (at most once per backoff step); at the cap,
an identical failure is logged every `CAPPED_LOG_EVERY`th time, with how
many were left unlogged meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from rafka.broker.replica.roles import PartitionKey

CAPPED_LOG_EVERY = 4


@dataclass
class _Entry:
    delay_ms: int = 0
    next_ms: int = 0
    last_error: str | None = None
    unlogged: int = 0
    capped_failures: int = 0


@dataclass(frozen=True)
class FailureVerdict:
    delay_ms: int  # wait before the next proposal
    log: bool  # worth a warning line
    unlogged: int  # identical failures not logged since the last warning


class AlterPartitionBackoff:
    def __init__(self, initial_ms: int, max_ms: int) -> None:
        assert 0 < initial_ms <= max_ms
        self.initial_ms = initial_ms
        self.max_ms = max_ms
        self._entries: dict[PartitionKey, _Entry] = {}  # only partitions whose last proposal failed

    def ready(self, key: PartitionKey, now_ms: int) -> bool:
        """May this partition's leader propose an ISR change now?"""
        e = self._entries.get(key)
        return e is None or now_ms >= e.next_ms

    def delay_ms(self, key: PartitionKey) -> int:
        e = self._entries.get(key)
        return 0 if e is None else e.delay_ms

    def failed(self, key: PartitionKey, now_ms: int, error: str) -> FailureVerdict:
        """A proposal failed (refused, timed out, or had nothing to commit)."""
        e = self._entries.setdefault(key, _Entry())
        grew = e.delay_ms < self.max_ms
        e.delay_ms = self.initial_ms if e.delay_ms == 0 else min(e.delay_ms * 2, self.max_ms)
        e.next_ms = now_ms + e.delay_ms
        changed = error != e.last_error
        if changed or grew:
            e.capped_failures = 0
            log = True
        else:
            e.capped_failures += 1
            log = e.capped_failures % CAPPED_LOG_EVERY == 0
        unlogged = e.unlogged
        if log:
            e.last_error = error
            e.unlogged = 0
        else:
            e.unlogged += 1
        return FailureVerdict(e.delay_ms, log, unlogged if log else e.unlogged)

    def reset(self, key: PartitionKey) -> None:
        """Success, or the partition's metadata changed: propose freely again."""
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
