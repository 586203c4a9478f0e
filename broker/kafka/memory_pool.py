"""The listener's request memory (Kafka's queued.max.request.bytes).

Request bytes read but not yet answered, summed over every connection of
the listener, stay within `requests_queued_bytes_max`. A connection
reserves a request's size as soon as it knows it (the 4-byte size prefix)
and before it reads further; the bytes go back when the request is
answered (or the connection ends). A connection whose next request does
not fit waits, not reading its socket (TCP pushes back on the client),
until enough is released; waiters are served first come, first served, so
a big request is not starved by a stream of small ones. A request larger
than the whole pool can never fit: the connection refuses it (fits_ever).

`PoolAccounting` is the pure part (numbers and a queue of opaque waiter
tokens); `RequestMemory` wraps it for trio tasks.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import trio


class PoolAccounting:
    def __init__(self, capacity_bytes: int) -> None:
        if capacity_bytes < 1:
            raise ValueError(f"pool capacity must be >= 1 byte, got {capacity_bytes}")
        self.capacity_bytes = capacity_bytes
        self.used_bytes = 0
        self._waiters: deque[tuple[Any, int]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def fits_ever(self, n: int) -> bool:
        return n <= self.capacity_bytes

    def reserve_now(self, n: int) -> bool:
        """Take `n` bytes if nobody waits and they fit now."""
        if not self.fits_ever(n):
            raise ValueError(f"{n} bytes can never fit in a pool of {self.capacity_bytes}")
        if self._waiters or self.used_bytes + n > self.capacity_bytes:
            return False
        self.used_bytes += n
        return True

    def enqueue(self, token: Any, n: int) -> None:
        """Queue `token` for `n` bytes (after reserve_now said no); it is
        among what a later release() returns once its bytes are taken."""
        if not self.fits_ever(n):
            raise ValueError(f"{n} bytes can never fit in a pool of {self.capacity_bytes}")
        self._waiters.append((token, n))

    def release(self, n: int) -> list[Any]:
        """Give back `n` bytes; the tokens whose bytes are now taken for
        them, in queue order (the queue stops at the first that does not
        fit)."""
        if n < 0 or n > self.used_bytes:
            raise ValueError(f"release of {n} bytes with {self.used_bytes} in use")
        self.used_bytes -= n
        return self._grant() if self._waiters else []

    def cancel(self, token: Any) -> bool:
        """Withdraw a queued token: True when it was still waiting; False
        when its bytes were already taken for it (the caller releases
        them)."""
        for i, (t, _n) in enumerate(self._waiters):
            if t is token:
                del self._waiters[i]
                return True
        return False

    def _grant(self) -> list[Any]:
        granted = []
        while self._waiters and self.used_bytes + self._waiters[0][1] <= self.capacity_bytes:
            token, n = self._waiters.popleft()
            self.used_bytes += n
            granted.append(token)
        return granted


class RequestMemory(PoolAccounting):
    """PoolAccounting for trio tasks: `reserve` waits its turn, `release`
    wakes the waiters it served."""

    async def reserve(self, n: int) -> None:
        """Take `n` bytes, waiting until they fit (n must fit_ever)."""
        if self.reserve_now(n):
            return
        granted = trio.Event()
        self.enqueue(granted, n)
        try:
            await granted.wait()
        except BaseException:
            if not self.cancel(granted):
                self.release(n)  # taken for us just as we were cancelled
            raise

    def release(self, n: int) -> list[Any]:
        granted = super().release(n)
        for event in granted:
            event.set()
        return granted
