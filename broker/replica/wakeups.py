"""Long-polling fetches wait on the partitions they read, not on the node.

A follower's fetch is woken when the leader's log end of one of its
partitions moves (an append); a consumer's when the high watermark of one
of its partitions moves; every fetch when roles change (its partition may
have moved or gone: the re-read answers with the error). Kafka's
DelayedFetch purgatory is keyed by partition the same way. Before this, one
node-wide event woke every waiting fetch on every append, flush and
follower report: with two followers polling, ~1,200 wake-ups a second at
200 produce requests a second, each re-reading all its partitions to find
nothing new.

Invariants: an event is registered under a key only while its fetch
waits, so the registry holds at most one entry per waiting fetch per
partition it reads (bounded by the listeners' in-flight limits); a wake-up
removes nothing (the waiter unregisters itself, also when cancelled).
"""

from __future__ import annotations

from collections.abc import Iterable

import trio

Key = tuple[str, int]  # (topic, partition)


class FetchWakeups:
    def __init__(self) -> None:
        self._followers: dict[Key, set[trio.Event]] = {}
        self._consumers: dict[Key, set[trio.Event]] = {}

    def _table(self, follower: bool) -> dict[Key, set[trio.Event]]:
        return self._followers if follower else self._consumers

    async def wait(self, keys: Iterable[Key], *, follower: bool, deadline: float) -> None:
        """Wait until one of `keys` has news for this kind of reader (or
        roles changed), or until `deadline` (trio time)."""
        event = trio.Event()
        table = self._table(follower)
        keys = list(keys)
        for k in keys:
            table.setdefault(k, set()).add(event)
        try:
            with trio.move_on_at(deadline):
                await event.wait()
        finally:
            for k in keys:
                waiting = table.get(k)
                if waiting is not None:
                    waiting.discard(event)
                    if not waiting:
                        del table[k]

    def appended(self, key: Key) -> None:
        """The leader's log end of `key` moved: wake its followers' fetches."""
        self._wake(self._followers.get(key))

    def high_watermark_moved(self, key: Key) -> None:
        """The HW of `key` moved: wake its consumers' fetches."""
        self._wake(self._consumers.get(key))

    def roles_changed(self) -> None:
        """Leadership, epochs or the set of hosted partitions changed:
        every waiting fetch re-reads (and answers with the error if its
        partition moved)."""
        for table in (self._followers, self._consumers):
            for waiting in table.values():
                self._wake(waiting)

    def waiting(self) -> int:
        """Registered (fetch, partition) waits, for tests and metrics."""
        return sum(len(s) for s in self._followers.values()) + sum(len(s) for s in self._consumers.values())

    @staticmethod
    def _wake(waiting: set[trio.Event] | None) -> None:
        if waiting:
            for event in waiting:
                event.set()
