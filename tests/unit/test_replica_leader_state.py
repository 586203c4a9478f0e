"""LeaderState: high watermark over the ISR, ISR shrink/expand decisions,
acks=all waiters and the min.insync.replicas check (pure, time passed in)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rafka.broker.replica.leader_state import LeaderState
from rafka.netproto.errors import ErrorCode, RafkaError


def leader(isr=(1, 2, 3), replicas=(1, 2, 3), leo=10, hw=0, now=0, lag=30_000, epoch_start=0):
    return LeaderState(1, leader_epoch=5, partition_epoch=7, replicas=replicas, isr=isr,
                       leader_log_end_offset=leo, high_watermark=hw, epoch_start_offset=epoch_start,
                       now_ms=now, lag_time_max_ms=lag)


def test_hw_is_min_durable_log_end_over_isr():
    """Goal: the HW waits for every ISR member, including the leader's own fsync."""
    s = leader(leo=0)
    s.update_leader(10)
    assert s.high_watermark == 0
    assert not s.update_follower(2, 10, now_ms=1)
    assert s.high_watermark == 0  # follower 3 unknown
    assert s.update_follower(3, 7, now_ms=1)
    assert s.high_watermark == 7
    s.update_follower(3, 10, now_ms=2)
    assert s.high_watermark == 10
    s.update_follower(2, 12, now_ms=3)  # ahead of the leader's durable end: leader bounds it
    assert s.high_watermark == 10


def test_hw_never_moves_backwards():
    """Goal: a follower reporting a smaller log end (a restart) never lowers the HW."""
    s = leader(leo=10)
    s.update_follower(2, 10, 1)
    s.update_follower(3, 10, 1)
    assert s.high_watermark == 10
    s.update_follower(3, 4, 2)
    assert s.high_watermark == 10


def test_out_of_sync_replica_does_not_hold_hw():
    """Goal: a replica outside the ISR does not count for the HW."""
    s = leader(isr=(1, 2), leo=10)
    s.update_follower(2, 10, 1)
    assert s.high_watermark == 10


def test_shrink_after_lag_time_max_and_not_before():
    """Goal: a follower not caught up for more than replica.lag.time.max.ms leaves the ISR."""
    s = leader(leo=10, lag=1000)
    s.update_follower(2, 10, now_ms=500)
    s.update_follower(3, 3, now_ms=500)
    assert s.isr_change(now_ms=1000) is None
    assert s.isr_change(now_ms=1001) == (1, 2)
    assert s.pending_isr == (1, 2)
    assert s.isr_change(now_ms=5000) is None  # one change in flight


def test_caught_up_as_of_previous_fetch():
    """Goal: Kafka's rule: reaching the leader's end as of the previous fetch counts as caught up then."""
    s = leader(leo=10, lag=1000)
    s.update_follower(2, 5, now_ms=100)      # leader at 10
    s.update_leader(20)
    s.update_follower(2, 10, now_ms=900)     # reached 10 = leader end at its previous fetch (t=100)
    assert s.followers[2].last_caught_up_ms == 100
    s.update_follower(3, 20, now_ms=900)
    assert s.shrink_candidates(1101) == [2]


def test_expand_once_follower_reaches_hw_in_current_epoch():
    """Goal: an out-of-sync follower rejoins when its durable end reaches the HW and the epoch start."""
    s = leader(isr=(1, 2), leo=10, epoch_start=8)
    s.update_follower(2, 10, 1)
    assert s.high_watermark == 10
    s.update_follower(3, 9, 1)
    assert s.isr_change(2) is None
    s.update_follower(3, 10, 2)
    assert s.isr_change(3) == (1, 2, 3)
    # pending expansion counts for the HW already (maximal ISR)
    s.update_leader(15)
    s.update_follower(2, 15, 4)
    assert s.high_watermark == 10
    assert s.apply_isr((1, 2, 3), 8) is False
    assert s.isr == (1, 2, 3) and s.pending_isr is None and s.partition_epoch == 8


def test_pending_shrink_still_counts_removed_member():
    """Goal: until the shrink commits, the HW still waits for the member being removed."""
    s = leader(leo=10, lag=10)
    s.update_follower(2, 10, 95)
    assert s.isr_change(100) == (1, 2)
    assert s.high_watermark == 0
    assert s.apply_isr((1, 2), 8)
    assert s.high_watermark == 10


def test_stale_isr_update_ignored_and_failed_alter_clears_pending():
    """Goal: an older partition epoch does not overwrite; a refused AlterPartition can be retried."""
    s = leader(lag=10)
    assert s.isr_change(100) is not None
    s.alter_failed()
    assert s.pending_isr is None
    assert s.isr_change(100) is not None
    assert s.apply_isr((1,), 3) is False
    assert s.isr == (1, 2, 3)


def test_waiters_released_in_offset_order_as_hw_passes():
    """Goal: an acks=all append is released only once the HW is past its last offset."""
    s = leader(isr=(1, 2), leo=0)
    assert s.add_waiter(4, "a") is False
    assert s.add_waiter(2, "b") is False
    assert s.add_waiter(9, "c") is False
    s.update_leader(10)
    s.update_follower(2, 3, 1)
    assert s.released() == ["b"]
    s.update_follower(2, 5, 2)
    assert s.released() == ["a"]
    assert s.waiting == 1
    assert s.drain_waiters() == ["c"]
    assert s.add_waiter(3, "d") is True  # already below the HW


def test_waiters_bounded():
    """Goal: waiters_max bounds the heap; the overflow is refused with a typed error."""
    s = LeaderState(1, leader_epoch=0, partition_epoch=0, replicas=(1, 2), isr=(1, 2),
                    leader_log_end_offset=0, high_watermark=0, epoch_start_offset=0, now_ms=0, waiters_max=2)
    s.add_waiter(1, 1)
    s.add_waiter(1, 2)
    with pytest.raises(RafkaError) as e:
        s.add_waiter(1, 3)
    assert e.value.code == ErrorCode.REQUEST_TIMED_OUT


def test_min_isr():
    """Goal: min.insync.replicas is checked against the committed ISR."""
    s = leader(isr=(1, 2))
    s.check_min_isr(2)
    with pytest.raises(RafkaError) as e:
        s.check_min_isr(3)
    assert e.value.code == ErrorCode.NOT_ENOUGH_REPLICAS


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["leader", 2, 3]), st.integers(0, 100)), max_size=40))
def test_hw_monotonic_and_bounded_by_isr(events):
    """Goal (property): the HW never decreases and never exceeds any ISR member's reported end."""
    s = leader(leo=0)
    reported = {1: 0, 2: -1, 3: -1}
    last = s.high_watermark
    for t, (who, off) in enumerate(events):
        if who == "leader":
            s.update_leader(off)
            reported[1] = max(reported[1], off)
        else:
            s.update_follower(who, off, t)
            reported[who] = off
        assert s.high_watermark >= last
        last = s.high_watermark
        assert s.high_watermark <= max(0, reported[1])
