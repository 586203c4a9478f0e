"""FetchSessionCache (KIP-227, pure): session creation on epoch 0, epochs,
incremental add/update/forget, answers that omit unchanged partitions, the
size limit and eviction."""

from __future__ import annotations

import random

import pytest

from rafka.broker.replica.fetch_sessions import (
    EPOCH_MAX,
    FETCH_SESSION_ID_NOT_FOUND,
    INVALID_FETCH_SESSION_EPOCH,
    FetchSessionCache,
    FetchSessionError,
    PartitionAnswer,
    SessionPartition,
    next_epoch,
)


def ask(offset: int, max_bytes: int = 1 << 20) -> SessionPartition:
    return SessionPartition(offset, max_bytes)


def ans(hw: int, *, start: int = 0, records: bool = False, error: int = 0) -> PartitionAnswer:
    return PartitionAnswer(error, hw, start, records)


def open_session(cache, parts: dict, now_ms=0, answers=None):
    ctx = cache.new_context(0, 0, [(tp, ask(o)) for tp, o in parts.items()], [], now_ms)
    sid, include = cache.complete(ctx, answers or [ans(5)] * len(ctx.partitions), now_ms)
    return sid, include


def test_sessionless_full_fetch_creates_nothing():
    cache = FetchSessionCache(10)
    ctx = cache.new_context(0, -1, [(("t", 0), ask(0))], [], 0)
    assert cache.complete(ctx, [ans(3)], 0) == (0, [True])
    assert len(cache) == 0


def test_initial_epoch_opens_a_session_and_incremental_fetches_follow_it():
    """Goal: epoch 0 answers every partition with a new id; then each epoch reads the whole session
    and answers only partitions with records, errors, or a moved HW / log start."""
    cache = FetchSessionCache(10, rng=random.Random(1))
    sid, include = open_session(cache, {("t", 0): 0, ("t", 1): 0, ("u", 0): 7})
    assert sid != 0 and include == [True, True, True]
    # epoch 1: nothing named, every session partition read at its cached offset
    ctx = cache.new_context(sid, 1, [], [], 10)
    assert [(tp, sp.fetch_offset) for tp, sp in ctx.partitions] == [(("t", 0), 0), (("t", 1), 0), (("u", 0), 7)]
    assert cache.complete(ctx, [ans(5), ans(6), ans(5, records=True)], 10) == (sid, [False, True, True])
    # epoch 2: t-0 moved (client sends it), u-0 forgotten, v-0 added
    ctx = cache.new_context(sid, 2, [(("t", 0), ask(5)), (("v", 0), ask(0))], [("u", 0)], 20)
    assert [(tp, sp.fetch_offset) for tp, sp in ctx.partitions] == [(("t", 0), 5), (("t", 1), 0), (("v", 0), 0)]
    assert cache.complete(ctx, [ans(5), ans(6), ans(0)], 20) == (sid, [False, False, True])
    # an error is always news, and so is the recovery after it
    ctx = cache.new_context(sid, 3, [], [], 30)
    assert cache.complete(ctx, [ans(-1, error=6), ans(6), ans(0)], 30)[1] == [True, False, False]
    ctx = cache.new_context(sid, 4, [], [], 40)
    assert cache.complete(ctx, [ans(5), ans(6), ans(0, start=0)], 40)[1] == [True, False, False]
    ctx = cache.new_context(sid, 5, [], [], 50)
    assert cache.complete(ctx, [ans(5), ans(6), ans(0, start=1)], 50)[1] == [False, False, True]


def test_wrong_epoch_and_unknown_id_are_refused():
    cache = FetchSessionCache(10)
    sid, _ = open_session(cache, {("t", 0): 0})
    with pytest.raises(FetchSessionError) as e:
        cache.new_context(sid, 2, [], [], 0)
    assert e.value.code == INVALID_FETCH_SESSION_EPOCH
    with pytest.raises(FetchSessionError) as e:
        cache.new_context(sid + 1, 1, [], [], 0)
    assert e.value.code == FETCH_SESSION_ID_NOT_FOUND
    with pytest.raises(FetchSessionError) as e:
        cache.new_context(sid, -2, [], [], 0)
    assert e.value.code == INVALID_FETCH_SESSION_EPOCH
    # a refused request changes nothing: epoch 1 still works, then a replay of 1 is refused
    cache.new_context(sid, 1, [], [], 0)
    with pytest.raises(FetchSessionError):
        cache.new_context(sid, 1, [], [], 0)


def test_final_epoch_and_a_new_initial_close_the_named_session():
    cache = FetchSessionCache(10)
    sid, _ = open_session(cache, {("t", 0): 0})
    ctx = cache.new_context(sid, -1, [(("t", 0), ask(0))], [], 0)
    assert cache.complete(ctx, [ans(5)], 0) == (0, [True]) and len(cache) == 0
    sid, _ = open_session(cache, {("t", 0): 0})
    ctx = cache.new_context(sid, 0, [(("t", 0), ask(3))], [], 0)
    sid2, _ = cache.complete(ctx, [ans(5)], 0)
    assert sid2 not in (0, sid) and list(cache.sessions) == [sid2]


def test_epochs_wrap_like_the_clients():
    assert next_epoch(0) == 1 and next_epoch(EPOCH_MAX) == 1


def test_full_cache_evicts_idle_or_smaller_sessions_only():
    """Goal: at fetch_sessions_max sessions, a new session evicts the least recently used one when it
    idled past idle_ms, else the smallest one if the new session is bigger, else gets no session."""
    cache = FetchSessionCache(2, idle_ms=1000)
    small, _ = open_session(cache, {("t", 0): 0}, now_ms=0)
    big, _ = open_session(cache, {("t", 0): 0, ("t", 1): 0, ("t", 2): 0}, now_ms=0)
    # same size as the smallest, nobody idle: no session
    assert open_session(cache, {("u", 0): 0}, now_ms=500)[0] == 0
    assert set(cache.sessions) == {small, big}
    # bigger than the smallest: the smallest goes
    mid, _ = open_session(cache, {("u", 0): 0, ("u", 1): 0}, now_ms=600)
    assert mid != 0 and set(cache.sessions) == {big, mid} and cache.evictions == 1
    with pytest.raises(FetchSessionError):
        cache.new_context(small, 1, [], [], 700)
    # big is used at 1500; mid idles past 1000 ms, so even a one-partition session evicts it
    cache.new_context(big, 1, [], [], 1500)
    tiny, _ = open_session(cache, {("w", 0): 0}, now_ms=1700)
    assert tiny != 0 and set(cache.sessions) == {big, tiny}


def test_zero_slots_means_sessionless_answers():
    cache = FetchSessionCache(0)
    assert open_session(cache, {("t", 0): 0})[0] == 0


def test_a_repeated_partition_counts_once_with_its_last_ask():
    cache = FetchSessionCache(10)
    ctx = cache.new_context(0, 0, [(("t", 0), ask(1)), (("t", 0), ask(4))], [], 0)
    assert [(tp, sp.fetch_offset) for tp, sp in ctx.partitions] == [(("t", 0), 4)]
