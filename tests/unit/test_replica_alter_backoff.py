"""AlterPartitionBackoff: a refused ISR change waits one tick, doubling per
failure up to the cap; success or a metadata change resets it; identical
failures are logged once per backoff step."""

from __future__ import annotations

from rafka.broker.metadata import records as r
from rafka.broker.replica.alter_backoff import CAPPED_LOG_EVERY, AlterPartitionBackoff
from rafka.broker.replica.manager import ReplicaManager
from rafka.broker.replica.settings import ReplicaConfig
from rafka.netproto.errors import ErrorCode, RafkaError
from tests.unit.test_replica_manager import Meta, cluster, wait_until

KEY = ("T1", 0)
OTHER = ("T1", 1)


def test_failures_double_the_wait_up_to_the_cap_per_partition():
    b = AlterPartitionBackoff(1000, 8000)
    assert b.ready(KEY, 0)
    delays = []
    now = 0
    for _ in range(6):
        v = b.failed(KEY, now, "brokers [3] are not eligible to join the isr")
        delays.append(v.delay_ms)
        assert not b.ready(KEY, now + v.delay_ms - 1)
        now += v.delay_ms
        assert b.ready(KEY, now)
    assert delays == [1000, 2000, 4000, 8000, 8000, 8000]
    assert b.ready(OTHER, 0)  # another partition is not held back


def test_success_or_metadata_change_resets():
    b = AlterPartitionBackoff(1000, 8000)
    for now in (0, 1000, 3000):
        b.failed(KEY, now, "refused")
    assert b.delay_ms(KEY) == 4000 and not b.ready(KEY, 3001)
    b.reset(KEY)
    assert b.ready(KEY, 3001) and len(b) == 0
    assert b.failed(KEY, 3001, "refused").delay_ms == 1000


def test_identical_failures_logged_once_per_step_and_sparsely_at_the_cap():
    b = AlterPartitionBackoff(1000, 4000)
    verdicts = [b.failed(KEY, i, "not eligible") for i in range(3 + 2 * CAPPED_LOG_EVERY)]
    logged = [i for i, v in enumerate(verdicts) if v.log]
    # steps 1000, 2000, 4000 are logged; then every CAPPED_LOG_EVERY-th at the cap
    assert logged == [0, 1, 2, 2 + CAPPED_LOG_EVERY, 2 + 2 * CAPPED_LOG_EVERY]
    assert verdicts[2 + CAPPED_LOG_EVERY].unlogged == CAPPED_LOG_EVERY - 1
    changed = b.failed(KEY, 100, "partition epoch is stale")
    assert changed.log  # a different error is always worth a line


async def test_manager_backs_off_a_refused_alter_partition_and_resets_on_metadata_change(tmp_path, nursery):
    """Goal: the leader's refused AlterPartition (the follower never fetches, so the ISR shrinks)
    puts the partition in backoff, and a metadata change of that partition clears it."""
    meta = Meta()
    cluster(meta, rf_isr=((1, 2), (1, 2)))
    calls = []

    async def refuse(req):
        calls.append(req.new_isr)
        raise RafkaError(ErrorCode.INVALID_REQUEST, "brokers [2] are not eligible to join the isr")

    rm = ReplicaManager(1, [tmp_path / "n1"], meta.sm, ReplicaConfig(lag_time_max_ms=200),
                        alter_partition=refuse, broker_epoch=lambda: 1)
    await nursery.start(rm.run)
    key = rm.partition("t", 0).role.key
    await wait_until(lambda: rm.alter_backoff.delay_ms(key) >= 200, "two refusals backed off")
    assert calls and all(isr == [1] for isr in calls)
    assert rm.alter_backoff.delay_ms(key) <= 8_000
    meta.apply(r.PartitionChangeRecord("T1", 0, isr=(1,)))  # the partition's metadata changed
    await wait_until(lambda: rm.partition("t", 0).leader.isr == (1,), "isr applied")
    assert rm.alter_backoff.delay_ms(key) == 0
