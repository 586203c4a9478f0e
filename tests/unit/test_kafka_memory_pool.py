"""Goal: the listener's request memory pool (Kafka's
queued.max.request.bytes) never hands out more than its capacity, serves
waiters first come first served as bytes come back, gives back what a
cancelled waiter was granted, and refuses a request that can never fit."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from rafka.broker.kafka.memory_pool import PoolAccounting, RequestMemory


def test_reservations_stay_within_the_capacity():
    pool = PoolAccounting(100)
    assert pool.reserve_now(60) and pool.reserve_now(40)
    assert not pool.reserve_now(1)
    assert pool.used_bytes == 100
    assert pool.release(40) == [] and pool.reserve_now(30) and pool.used_bytes == 90


def test_waiters_are_served_in_order_as_bytes_come_back():
    pool = PoolAccounting(100)
    assert pool.reserve_now(90)
    pool.enqueue("a", 50)
    pool.enqueue("b", 40)
    pool.enqueue("c", 30)
    assert not pool.reserve_now(5)  # nobody jumps the queue, even when it would fit
    assert pool.release(30) == []  # 60 used: a (50) does not fit yet
    assert pool.release(60) == ["a", "b"]  # 0 used: a and b fit, c (30) would not
    assert pool.used_bytes == 90 and pool.waiting == 1
    assert pool.release(50) == ["c"] and pool.used_bytes == 70 and pool.waiting == 0


def test_a_cancelled_waiter_leaves_the_queue():
    pool = PoolAccounting(10)
    assert pool.reserve_now(10)
    pool.enqueue("a", 8)
    pool.enqueue("b", 2)
    assert pool.cancel("a") is True
    assert pool.release(2) == ["b"]
    assert pool.cancel("b") is False  # already granted: the caller gives it back


def test_what_can_never_fit_and_over_release_are_refused():
    pool = PoolAccounting(10)
    assert pool.fits_ever(10) and not pool.fits_ever(11)
    with pytest.raises(ValueError):
        pool.reserve_now(11)
    with pytest.raises(ValueError):
        pool.enqueue("x", 11)
    with pytest.raises(ValueError):
        pool.release(1)
    with pytest.raises(ValueError):
        PoolAccounting(0)


async def test_a_waiting_task_gets_its_bytes_when_another_releases():
    memory = RequestMemory(100)
    await memory.reserve(80)
    got = trio.Event()

    async def second():
        await memory.reserve(50)
        got.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(second)
        await trio.testing.wait_all_tasks_blocked()
        assert not got.is_set() and memory.waiting == 1
        memory.release(80)
        await got.wait()
    assert memory.used_bytes == 50


async def test_a_cancelled_waiter_holds_nothing_and_blocks_nobody():
    memory = RequestMemory(100)
    await memory.reserve(100)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(memory.reserve, 60)
        await trio.testing.wait_all_tasks_blocked()
        assert memory.waiting == 1
        nursery.cancel_scope.cancel()
    assert memory.waiting == 0
    memory.release(100)
    assert memory.used_bytes == 0
    await memory.reserve(100)  # the cancelled waiter took nothing
