"""The node's heap settling: objects alive at a settle are frozen (skipped
by collections); a refresh brings them back so cycles that became garbage
among them are collected after all."""

from __future__ import annotations

import gc
import weakref

import trio

from rafka.broker.node import heap


class _Node:
    """A reference cycle."""

    def __init__(self) -> None:
        self.me = self


class _Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def info(self, event: str, **fields) -> None:
        self.events.append((event, fields))


def test_frozen_cycle_is_collected_only_by_a_refresh():
    """Goal: settle freezes what is alive (a later collection leaves a
    frozen cycle alone even once it is garbage); a refresh collects it."""
    try:
        obj = _Node()
        ref = weakref.ref(obj)
        report = heap.settle(refresh=False)
        assert report["frozen"] > 0 and gc.get_freeze_count() == report["frozen"]
        del obj
        gc.collect()
        assert ref() is not None  # frozen: collections skip it
        heap.settle(refresh=True)
        assert ref() is None
    finally:
        gc.unfreeze()


async def test_settle_loop_settles_after_start_then_refreshes(autojump_clock):
    """Goal: the node's loop settles once after the start-up delay, then
    refreshes every interval, logging each with its pause."""
    log = _Log()
    try:
        with trio.move_on_after(25):
            await heap.settle_loop(log, delay_s=10, interval_s=7)
    finally:
        gc.unfreeze()
    assert [e for e, _ in log.events] == ["heap.settled", "heap.refreshed", "heap.refreshed"]
    assert all({"collected", "frozen", "pause_ms"} <= set(f) for _, f in log.events)
