"""PartitionLog retention, log start offset and timestamp lookup."""

from __future__ import annotations

from rafka.log.config import LogConfig
from rafka.log.errors import OffsetOutOfRangeError
from rafka.log.partition_log import PartitionLog
from rafka.log.records import Record, build_batch

import pytest

DAY_MS = 24 * 3600 * 1000


class Clock:
    def __init__(self, now_ms: int):
        self.now = now_ms

    def __call__(self) -> int:
        return self.now


def batch(i: int, ts: int) -> bytes:
    return build_batch([Record(None, b"value-%03d" % i)], timestamp_ms=ts)


def test_retention_by_time_deletes_old_sealed_segments_only(tmp_path):
    """Goal: sealed segments whose newest batch is older than retention_ms are deleted, oldest
    first; the active segment never is; the log start offset moves and survives restart."""
    clock = Clock(100 * DAY_MS)
    cfg = LogConfig(segment_bytes_max=400, retention_ms=7 * DAY_MS)
    with PartitionLog.open(tmp_path / "p", cfg, now_ms=clock) as log:
        for i in range(20):  # old batches, then recent ones
            log.append(batch(i, ts=clock.now - (10 if i < 12 else 1) * DAY_MS))
        bases = log.segment_base_offsets()
        assert len(bases) >= 4
        deleted = log.enforce_retention()
        assert deleted >= 1
        assert log.log_start_offset == log.segment_base_offsets()[0] > 0
        assert log.log_start_offset <= 12  # the segment holding recent batches stays
        with pytest.raises(OffsetOutOfRangeError):
            log.read(0, 100)
        clock.now += 30 * DAY_MS  # now everything is old: all but the active segment go
        log.enforce_retention()
        assert log.segment_base_offsets() == [bases[-1]]
        start = log.log_start_offset
    with PartitionLog.open(tmp_path / "p", cfg, now_ms=clock) as log:
        assert log.log_start_offset == start
        assert log.log_end_offset == 20


def test_retention_by_bytes_keeps_at_least_retention_bytes(tmp_path):
    """Goal: retention by bytes deletes oldest sealed segments while the rest still holds at
    least retention_bytes (Kafka's rule)."""
    cfg = LogConfig(segment_bytes_max=400, retention_bytes=1000, retention_ms=-1)
    with PartitionLog.open(tmp_path / "p", cfg) as log:
        for i in range(40):
            log.append(batch(i, ts=1))
        before = log.size_bytes
        assert before > 2000
        assert log.enforce_retention() > 0
        assert 1000 <= log.size_bytes < 1000 + 400
        assert log.enforce_retention() == 0


def test_unlimited_retention_deletes_nothing(tmp_path):
    """Goal: retention_ms = retention_bytes = -1 keeps every segment however old."""
    cfg = LogConfig(segment_bytes_max=400, retention_bytes=-1, retention_ms=-1)
    with PartitionLog.open(tmp_path / "p", cfg, now_ms=Clock(10**13)) as log:
        for i in range(20):
            log.append(batch(i, ts=1))
        assert log.enforce_retention() == 0 and log.log_start_offset == 0


def test_delete_before_moves_log_start_and_deletes_whole_segments(tmp_path):
    """Goal: delete_before advances the log start (reads below it fail) and deletes only
    segments wholly before it; beyond the log end the log restarts empty there."""
    cfg = LogConfig(segment_bytes_max=400)
    with PartitionLog.open(tmp_path / "p", cfg) as log:
        for i in range(20):
            log.append(batch(i, ts=1), leader_epoch=1)
        bases = log.segment_base_offsets()
        target = bases[1] + 1
        assert log.delete_before(target) == 1
        assert log.segment_base_offsets()[0] == bases[1]
        assert log.log_start_offset == target
        with pytest.raises(OffsetOutOfRangeError):
            log.read(target - 1, 100)
        assert log.read(target, 100)
        assert log.leader_epochs.entries == [(1, target)]
        log.delete_before(50)  # a follower catching up from a snapshot
        assert (log.log_start_offset, log.log_end_offset) == (50, 50)
        assert log.segment_base_offsets() == [50]
        assert log.append(batch(99, ts=1)).base_offset == 50
    with PartitionLog.open(tmp_path / "p", cfg) as log:
        assert (log.log_start_offset, log.log_end_offset) == (50, 51)


def test_offset_for_timestamp(tmp_path):
    """Goal: offset_for_timestamp gives the first batch whose max timestamp reaches the target,
    across segments, None past the newest, and respects the log start."""
    cfg = LogConfig(segment_bytes_max=400, index_interval_bytes=64)
    with PartitionLog.open(tmp_path / "p", cfg) as log:
        for i in range(30):
            log.append(batch(i, ts=1000 + 10 * i))
        assert len(log.segment_base_offsets()) > 2
        assert log.offset_for_timestamp(0) == 0
        assert log.offset_for_timestamp(1000) == 0
        assert log.offset_for_timestamp(1001) == 1
        for i in range(30):
            assert log.offset_for_timestamp(1000 + 10 * i) == i
            assert log.offset_for_timestamp(1000 + 10 * i - 5) == i
        assert log.offset_for_timestamp(1000 + 10 * 29 + 1) is None
        log.delete_before(7)
        assert log.offset_for_timestamp(0) == 7


def test_offset_for_timestamp_with_out_of_order_timestamps(tmp_path):
    """Goal: with timestamps that go back and forth the answer is still the first batch whose
    timestamp reaches the target."""
    stamps = [50, 10, 70, 20, 90, 30, 60]
    with PartitionLog.open(tmp_path / "p", LogConfig(index_interval_bytes=0)) as log:
        for i, ts in enumerate(stamps):
            log.append(batch(i, ts=ts))
        for target in range(0, 100, 5):
            expected = next((i for i, ts in enumerate(stamps) if ts >= target), None)
            assert log.offset_for_timestamp(target) == expected, target


def test_reset_warns_only_when_records_are_discarded(tmp_path):
    """Goal: moving the start of an empty log (a fresh Raft log starts at 1)
    is no warning; a reset past records that existed warns and says how many
    were dropped; a truncation says how many offsets it cut."""
    from structlog.testing import capture_logs

    with PartitionLog.open(tmp_path / "p", LogConfig()) as log:
        with capture_logs() as logs:
            log.delete_before(1)
        assert log.log_start_offset == 1
        assert [e for e in logs if e["log_level"] == "warning"] == []
        for i in range(5):
            log.append(batch(i, ts=1))
        assert log.log_end_offset == 6
        with capture_logs() as logs:
            log.truncate_to(4)
        [cut] = [e for e in logs if e["event"] == "log_truncated"]
        assert cut["offsets_cut"] == 2 and cut["old_end_offset"] == 6 and cut["offset"] == 4
        with capture_logs() as logs:
            log.delete_before(10)
        [reset] = [e for e in logs if e["log_level"] == "warning"]
        assert reset["event"] == "log_reset" and reset["discarded_offsets"] == 3
        assert reset["discarded_from_offset"] == 1
