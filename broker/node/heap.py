"""The node's heap and Python's cyclic garbage collector.

Why: a node holds hundreds of thousands of long-lived objects (the
metadata image, partition and log state, kio and msgpack schemas, imported
modules). CPython's oldest-generation collection walks all of them and
stops the event loop while it does: 50 to 150 ms per collection on a
three-node cluster under produce load, a stall that every request in
flight waits out (it set the produce p99). `gc.freeze()` moves the objects
alive at that moment to a permanent generation that collections skip, so
a collection walks only what was allocated since: 4 to 12 ms in the same
runs.

What it costs: a reference cycle among frozen objects that becomes garbage
later is not collected until the next refresh. So the heap is settled
(collect, then freeze) once the node has started and its metadata has
been replayed, and refreshed (unfreeze, collect, freeze) every
`HEAP_REFRESH_INTERVAL_S`: one full collection per interval instead of one
every few seconds under load.
"""

from __future__ import annotations

import gc
import time

import trio

# After start-up: the metadata log is replayed by then (a longer replay
# leaves the rest to the first refresh).
HEAP_SETTLE_DELAY_S = 3.0
HEAP_REFRESH_INTERVAL_S = 3600.0


def settle(*, refresh: bool) -> dict:
    """Collect, then freeze what is alive; with `refresh`, first bring the
    frozen objects back so cycles among them are collected too. Returns
    what a log line reports."""
    started = time.perf_counter()
    if refresh:
        gc.unfreeze()
    collected = gc.collect()
    gc.freeze()
    return {"collected": collected, "frozen": gc.get_freeze_count(),
            "pause_ms": round(1000 * (time.perf_counter() - started), 1)}


async def settle_loop(log, *, delay_s: float = HEAP_SETTLE_DELAY_S,
                      interval_s: float = HEAP_REFRESH_INTERVAL_S) -> None:
    """Settle the heap `delay_s` after start, then refresh it every
    `interval_s`; runs until cancelled."""
    await trio.sleep(delay_s)
    log.info("heap.settled", **settle(refresh=False))
    while True:
        await trio.sleep(interval_s)
        log.info("heap.refreshed", **settle(refresh=True))
