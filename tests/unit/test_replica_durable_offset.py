"""A follower reports as durable only what its log holds fsynced now: a
flush that finished before a truncation never reports the cut offsets
after it (the leader would count them toward the HW)."""

from __future__ import annotations

from rafka.broker.replica import manager as manager_module
from tests.unit.test_replica_manager import Meta, batch, cluster, started  # noqa: F401


async def test_flush_result_from_before_a_truncation_is_never_reported(started, monkeypatch):
    """Goal: a flush whose result comes back after the log was truncated
    (the flusher's pass racing a follower's truncation) leaves the reported
    durable offset at or below the new log end."""
    meta = Meta()
    cluster(meta, rf_isr=((2, 1), (2, 1)))  # node 1 follows node 2
    rm = await started(meta)
    p = rm.partition("t", 0)
    rm.follower_append(p, batch(2) + batch(2, base_offset=2), leader_hw=0)
    assert p.log.log_end_offset == 4
    real_flush_all = manager_module.flush_all

    def flush_then_truncate(parts):
        results = real_flush_all(parts)  # durable up to 4 ...
        p.log.truncate_to(2)  # ... then a truncation lands before the result is used
        return results

    monkeypatch.setattr(manager_module, "flush_all", flush_then_truncate)
    await rm.wait_durable([p])
    assert p.log.log_end_offset == 2
    assert rm.follower_durable_offset(p) == 2
