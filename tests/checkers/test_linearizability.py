"""Unit tests for the linearizability checker and its ready-made models."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checkers.linearizability import (
    CheckResult,
    Model,
    Operation,
    check,
    kv_model,
    register_model,
)

INF = math.inf


def op(client, inp, call, out, ret):
    return Operation(client_id=client, input=inp, call_time=call, output=out, return_time=ret)


def W(client, v, call, ret, out="ok"):
    return op(client, ("write", v), call, out, ret)


def R(client, v, call, ret):
    return op(client, ("read",), call, v, ret)


def test_sequential_history_is_linearizable():
    """Goal: a plain sequential write-then-read history passes."""
    h = [W(0, 1, 0, 1), R(1, 1, 2, 3), W(0, 2, 4, 5), R(1, 2, 6, 7)]
    assert check(register_model(0), h).ok is True


def test_stale_read_is_flagged():
    """Goal: a read that starts after a write completed but returns the old
    value is rejected, and the report names the stuck read."""
    h = [W(0, 1, 0, 1), R(1, 0, 2, 3)]
    res = check(register_model(0), h)
    assert res.ok is False
    assert any(o.input == ("read",) and o.output == 0 for o in res.stuck_ops)
    assert "not linearizable" in res.message


def test_lost_write_is_flagged():
    """Goal: an acknowledged write that a later read does not see (reads the
    value from before it) is rejected."""
    h = [W(0, 1, 0, 1), W(1, 2, 2, 3), R(2, 1, 4, 5)]
    assert check(register_model(0), h).ok is False


def test_concurrent_ops_may_order_either_way():
    """Goal: a read overlapping a write may see either the old or the new
    value, and two overlapping writes may land in either order."""
    for seen in (0, 1):
        assert check(register_model(0), [W(0, 1, 0, 10), R(1, seen, 1, 2)]).ok is True
    h = [W(0, 1, 0, 10), W(1, 2, 1, 9), R(2, 1, 11, 12)]
    assert check(register_model(0), h).ok is True
    h = [W(0, 1, 0, 10), W(1, 2, 1, 9), R(2, 2, 11, 12)]
    assert check(register_model(0), h).ok is True


def test_non_linearizable_sequence_across_readers():
    """Goal: two sequential reads may not go back in time: once a reader saw
    the new value, a later read (even by another client) must not see the old
    one, although both overlap the write."""
    h = [W(0, 1, 0, 100), R(1, 1, 1, 2), R(2, 0, 3, 4)]
    res = check(register_model(0), h)
    assert res.ok is False
    assert res.partial_linearization  # a non-empty prefix was found


def test_info_write_may_or_may_not_have_happened():
    """Goal: a write with an unknown outcome (return at infinity) can explain
    a later read of its value, or be absent; but it cannot be linearized
    before its own call."""
    info = W(0, 1, 0, INF, out=None)
    assert check(register_model(0), [info, R(1, 1, 5, 6)]).ok is True
    assert check(register_model(0), [info, R(1, 0, 5, 6)]).ok is True
    # seen then unseen: not linearizable even with the info write
    assert check(register_model(0), [info, R(1, 1, 5, 6), R(1, 0, 7, 8)]).ok is False
    # a read before the info write was called cannot see it
    late = W(0, 1, 10, INF, out=None)
    assert check(register_model(0), [R(1, 1, 0, 1), late]).ok is False


def test_info_read_accepts_any_value():
    """Goal: a read with unknown output constrains nothing."""
    h = [W(0, 1, 0, 1), op(1, ("read",), 2, None, INF), R(2, 1, 3, 4)]
    assert check(register_model(0), h).ok is True


def test_cas_semantics():
    """Goal: cas succeeds only on a match, a failed cas changes nothing, and
    an unknown cas may have taken effect."""
    m = register_model(0)
    assert check(m, [op(0, ("cas", 0, 5), 0, True, 1), R(1, 5, 2, 3)]).ok is True
    assert check(m, [op(0, ("cas", 1, 5), 0, True, 1)]).ok is False
    assert check(m, [op(0, ("cas", 1, 5), 0, False, 1), R(1, 0, 2, 3)]).ok is True
    assert check(m, [op(0, ("cas", 0, 5), 0, False, 1)]).ok is False
    assert check(m, [op(0, ("cas", 0, 5), 0, None, INF), R(1, 5, 2, 3)]).ok is True
    assert check(m, [op(0, ("cas", 0, 5), 0, None, INF), R(1, 0, 2, 3)]).ok is True


def test_kv_model_partitions_by_key():
    """Goal: the kv model checks keys independently (a violation on one key
    is found among many valid keys, and the partition count is reported)."""
    m = kv_model(None)
    h = []
    t = 0
    for k in range(20):
        h.append(op(0, ("put", k, k), t, "ok", t + 1))
        h.append(op(1, ("get", k), t + 2, k, t + 3))
        t += 4
    assert check(m, h).ok is True
    h.append(op(2, ("get", 7), t, 99, t + 1))
    res = check(m, h)
    assert res.ok is False
    assert res.partitions == 20
    assert all(o.input[1] == 7 for o in res.counterexample)


def test_kv_cas_and_describe():
    """Goal: kv cas follows register semantics and reports render ops."""
    m = kv_model(None)
    h = [op(0, ("put", "a", 1), 0, "ok", 1), op(1, ("cas", "a", 1, 2), 2, True, 3),
         op(2, ("get", "a"), 4, 1, 5)]
    res = check(m, h)
    assert res.ok is False
    report = res.to_json(m)
    assert report["ok"] is False and report["stuck_ops"]
    assert "get 'a'" in report["stuck_ops"][0]["op"]


def test_timeout_returns_unknown():
    """Goal: when the deadline passes the result is None (unknown), not a
    verdict. A fake clock that jumps past the deadline forces it."""
    ticks = iter(range(0, 10**9, 1000))
    h = [W(c, c, 0, 100) for c in range(12)] + [R(99, 0, 101, 102)]
    res = check(register_model(0), h, timeout_s=1.0, clock=lambda: next(ticks))
    assert res.ok is None


def test_operation_rejects_return_before_call():
    """Goal: bad input raises a typed error rather than confusing the search."""
    with pytest.raises(ValueError):
        Operation(0, ("read",), 5, 0, 4)


def test_custom_model_with_partition_hook():
    """Goal: a user-supplied model (a counter) plugs in unchanged."""

    def step(state, inp, out):
        if inp == "inc":
            return True, state + 1
        return (out is None or out == state), state

    m = Model(init=lambda: 0, step=step, name="counter")
    h = [op(0, "inc", 0, None, 1), op(1, "inc", 0, None, 1), op(2, "get", 2, 2, 3)]
    assert check(m, h).ok is True
    h[-1] = op(2, "get", 2, 1, 3)
    assert check(m, h).ok is False


def _simulate_register(seed: int, n_clients: int, n_ops: int, corrupt: bool):
    """Build a history from a real sequential register with random overlap:
    each op takes effect at an instant inside its [call, return] window."""
    rng = random.Random(seed)
    value = 0
    t = 0.0
    ops = []
    free_at = [0.0] * n_clients
    for _ in range(n_ops):
        c = rng.randrange(n_clients)
        call = max(t - rng.random() * 3, free_at[c])
        t = max(t, call) + rng.random()
        ret = t + rng.random() * 3
        free_at[c] = ret
        if rng.random() < 0.5:
            value = rng.randrange(5)
            ops.append(W(c, value, call, ret))
        else:
            ops.append(R(c, value, call, ret))
    if corrupt:
        # a read strictly after everything that returns a never-written value
        ops.append(R(n_clients, 99, t + 10, t + 11))
    return ops


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n_clients=st.integers(1, 5))
def test_generated_histories(seed, n_clients):
    """Goal: histories produced by a real atomic register always pass, and the
    same history plus an impossible read always fails."""
    h = _simulate_register(seed, n_clients, 40, corrupt=False)
    assert check(register_model(0), h).ok is True
    bad = _simulate_register(seed, n_clients, 40, corrupt=True)
    assert check(register_model(0), bad).ok is False


def test_large_history_is_fast_enough_to_finish():
    """Goal: a 2000-op concurrent history finishes (memoisation keeps the
    search from exploding) within a generous bound on search steps."""
    h = _simulate_register(7, 6, 2000, corrupt=False)
    res = check(register_model(0), h, timeout_s=60)
    assert isinstance(res, CheckResult) and res.ok is True
