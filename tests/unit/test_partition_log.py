"""PartitionLog: appends, reads, rolling, restart, bad input, truncation."""

from __future__ import annotations

import os
import threading

import pytest

from rafka.log.batch import parse_header
from rafka.log.config import LogConfig
from rafka.log.errors import CorruptBatchError, OffsetOutOfRangeError
from rafka.log.partition_log import BatchTooLargeError, InvalidOffsetError, LogClosedError, PartitionLog
from rafka.log.records import Record, build_batch, decode_batch

SMALL = LogConfig(segment_bytes_max=1024, index_interval_bytes=128)


class Clock:
    def __init__(self, now_ms: int = 1_000_000):
        self.now = now_ms

    def __call__(self) -> int:
        return self.now


def batch(i: int, n: int = 1, ts: int = 1_000_000, epoch: int = -1) -> bytes:
    return build_batch([Record(b"k%d" % i, b"v%d-%d" % (i, j)) for j in range(n)], timestamp_ms=ts,
                       partition_leader_epoch=epoch)


def read_all(log: PartitionLog, start: int | None = None) -> list[tuple[int, bytes]]:
    """(offset, value) of every record from `start` to the log end."""
    offset = log.log_start_offset if start is None else start
    out = []
    while offset < log.log_end_offset:
        data = log.read(offset, 300)
        assert data, "read returned nothing before the log end"
        pos = 0
        while pos < len(data):
            header, records = decode_batch(data, pos)
            out += [(r.offset, r.value) for r in records if r.offset >= offset]
            pos += header.size
        offset = parse_header(data, pos - header.size).next_offset
    return out


def dir_files(path) -> list[str]:
    return sorted(os.listdir(path))


def test_append_assigns_dense_offsets_and_read_returns_them(tmp_path):
    """Goal: appends get consecutive offsets and reads give back every record at its offset."""
    with PartitionLog.open(tmp_path / "p", SMALL) as log:
        infos = [log.append(batch(i, n=1 + i % 3)) for i in range(40)]
        assert infos[0].base_offset == 0
        for prev, cur in zip(infos, infos[1:]):
            assert cur.base_offset == prev.last_offset + 1
        assert log.log_end_offset == infos[-1].last_offset + 1
        records = read_all(log)
        assert [o for o, _ in records] == list(range(log.log_end_offset))
        assert records[0][1] == b"v0-0"
        assert len(log.segment_base_offsets()) > 1  # rolled by size on the way


def test_read_returns_whole_batches_and_at_least_one(tmp_path):
    """Goal: read starts with the batch holding the offset, returns whole batches within
    max_bytes but at least one, b"" at the end, and refuses offsets outside the log."""
    with PartitionLog.open(tmp_path / "p", SMALL) as log:
        for i in range(10):
            log.append(batch(i, n=3))
        data = log.read(4, 1)  # offset 4 is inside the second batch [3, 5]
        header = parse_header(data)
        assert header.base_offset == 3 and len(data) == header.size
        data = log.read(0, 10_000)
        sizes, pos = [], 0
        while pos < len(data):
            sizes.append(parse_header(data, pos).size)
            pos += sizes[-1]
        assert pos == len(data)
        assert log.read(log.log_end_offset, 100) == b""
        with pytest.raises(OffsetOutOfRangeError):
            log.read(log.log_end_offset + 1, 100)
        with pytest.raises(OffsetOutOfRangeError):
            log.read(-1, 100)


def test_stored_bytes_equal_appended_bytes_except_offset(tmp_path):
    """Goal: the log stores a batch byte for byte; only the base offset (outside the CRC) changes."""
    original = batch(7, n=2)
    with PartitionLog.open(tmp_path / "p") as log:
        log.append(batch(0))
        log.append(original)
        stored = log.read(1, 1000)
        assert stored[8:] == original[8:]
        assert parse_header(stored).base_offset == 1


def test_roll_by_size(tmp_path):
    """Goal: a segment never grows past segment_bytes_max (unless one batch alone is bigger)."""
    cfg = LogConfig(segment_bytes_max=500)
    with PartitionLog.open(tmp_path / "p", cfg) as log:
        for i in range(30):
            log.append(batch(i))
        bases = log.segment_base_offsets()
        assert len(bases) > 3
        for name in dir_files(tmp_path / "p"):
            if name.endswith(".log"):
                assert os.path.getsize(tmp_path / "p" / name) <= 500
        assert bases == sorted(bases) and bases[0] == 0


def test_roll_by_age_uses_injected_clock(tmp_path):
    """Goal: a non-empty active segment older than segment_ms_max rolls on the next append."""
    clock = Clock()
    cfg = LogConfig(segment_ms_max=60_000)
    with PartitionLog.open(tmp_path / "p", cfg, now_ms=clock) as log:
        log.append(batch(0))
        clock.now += 59_999
        log.append(batch(1))
        assert log.segment_base_offsets() == [0]
        clock.now += 1
        log.append(batch(2))
        assert log.segment_base_offsets() == [0, 2]


def test_restart_keeps_everything(tmp_path):
    """Goal: after close and reopen the log has the same offsets, records, epochs and start."""
    with PartitionLog.open(tmp_path / "p", SMALL) as log:
        for i in range(25):
            log.append(batch(i, n=2), leader_epoch=i // 10)
        log.delete_before(7)
        before = read_all(log)
        epochs = log.leader_epochs.entries
        end = log.log_end_offset
    with PartitionLog.open(tmp_path / "p", SMALL) as log:
        assert log.log_end_offset == end
        assert log.log_start_offset == 7
        assert read_all(log) == before
        assert log.leader_epochs.entries == epochs
        assert log.append(batch(99)).base_offset == end


def test_restart_after_crash_without_close_keeps_flushed_data(tmp_path):
    """Goal: flushed appends survive a process that never closed the log."""
    log = PartitionLog.open(tmp_path / "p", SMALL)
    for i in range(20):
        log.append(batch(i))
    assert log.flush() == 20
    before = read_all(log)
    # no close(): reopen the same directory as a restarted process would
    with PartitionLog.open(tmp_path / "p", SMALL) as again:
        assert read_all(again) == before


@pytest.mark.parametrize(
    "mutate, error",
    [
        (lambda b: b[:17] + bytes([b[17] ^ 1]) + b[18:], CorruptBatchError),  # CRC field
        (lambda b: b[:40] + bytes([b[40] ^ 0x10]) + b[41:], CorruptBatchError),  # body byte
        (lambda b: b[:16] + b"\x01" + b[17:], CorruptBatchError),  # magic 1
        (lambda b: b[:8] + (10**6).to_bytes(4, "big") + b[12:], CorruptBatchError),  # length
        (lambda b: b[:-3], CorruptBatchError),  # truncated
        (lambda b: b + b"\0" * 5, CorruptBatchError),  # trailing garbage
        (lambda b: b"", CorruptBatchError),
    ],
)
def test_bad_input_raises_and_leaves_log_unchanged(tmp_path, mutate, error):
    """Goal: a corrupt append raises a typed error and changes nothing, on disk or in memory."""
    with PartitionLog.open(tmp_path / "p", SMALL) as log:
        for i in range(5):
            log.append(batch(i))
        log.flush()
        sizes = {n: os.path.getsize(tmp_path / "p" / n) for n in dir_files(tmp_path / "p")}
        with pytest.raises(error):
            log.append(mutate(batch(9)))
        assert log.log_end_offset == 5
        log.flush()
        assert {n: os.path.getsize(tmp_path / "p" / n) for n in dir_files(tmp_path / "p")} == sizes
        assert log.append(batch(5)).base_offset == 5


def test_record_count_mismatch_is_rejected(tmp_path):
    """Goal: a batch whose record_count disagrees with last_offset_delta is refused (CRC recomputed
    so only the count is wrong)."""
    from rafka.log.batch import write_crc

    bad = bytearray(batch(1, n=2))
    bad[57:61] = (3).to_bytes(4, "big")
    write_crc(bad, 0, len(bad))
    with PartitionLog.open(tmp_path / "p") as log:
        with pytest.raises(CorruptBatchError):
            log.append(bytes(bad))
        assert log.log_end_offset == 0


def test_batch_over_limit_is_rejected(tmp_path):
    """Goal: a batch larger than batch_bytes_max raises BatchTooLargeError and writes nothing."""
    big = build_batch([Record(None, b"x" * 500)], timestamp_ms=1)
    with PartitionLog.open(tmp_path / "p", LogConfig(batch_bytes_max=400)) as log:
        with pytest.raises(BatchTooLargeError):
            log.append(big)
        assert log.log_end_offset == 0 and log.size_bytes == 0


def test_multi_batch_append_is_all_or_nothing(tmp_path):
    """Goal: several concatenated batches append together, and one bad batch among them
    rejects the whole append."""
    with PartitionLog.open(tmp_path / "p") as log:
        info = log.append(batch(0, n=2) + batch(1, n=3))
        assert (info.base_offset, info.last_offset) == (0, 4)
        good, bad = batch(2), bytearray(batch(3))
        bad[30] ^= 0xFF
        with pytest.raises(CorruptBatchError):
            log.append(good + bytes(bad))
        assert log.log_end_offset == 5
        assert [o for o, _ in read_all(log)] == [0, 1, 2, 3, 4]


def test_keep_offsets_requires_contiguous_base_offsets(tmp_path):
    """Goal: with assign_offsets=False the batch must start at log_end_offset and continue
    contiguously; otherwise InvalidOffsetError and nothing is written."""
    with PartitionLog.open(tmp_path / "p") as log:
        log.append(build_batch([Record(None, b"a")], base_offset=0, timestamp_ms=1), assign_offsets=False)
        with pytest.raises(InvalidOffsetError):
            log.append(build_batch([Record(None, b"b")], base_offset=5, timestamp_ms=1), assign_offsets=False)
        gap = build_batch([Record(None, b"c")], base_offset=1, timestamp_ms=1) + \
            build_batch([Record(None, b"d")], base_offset=3, timestamp_ms=1)
        with pytest.raises(InvalidOffsetError):
            log.append(gap, assign_offsets=False)
        assert log.log_end_offset == 1
        info = log.append(build_batch([Record(None, b"e")] * 2, base_offset=1, timestamp_ms=1),
                          assign_offsets=False)
        assert (info.base_offset, info.last_offset) == (1, 2)


def test_leader_epoch_is_stamped_and_cached(tmp_path):
    """Goal: leader_epoch is written into the stored batch and recorded where each epoch starts."""
    with PartitionLog.open(tmp_path / "p") as log:
        log.append(batch(0, n=2), leader_epoch=3)
        log.append(batch(1), leader_epoch=3)
        log.append(batch(2), leader_epoch=5)
        assert parse_header(log.read(3, 100)).partition_leader_epoch == 5
        assert log.leader_epochs.entries == [(3, 0), (5, 3)]
        assert log.leader_epochs.end_offset_for(3) == (3, 3)
        assert log.leader_epochs.end_offset_for(5) == (5, 4)
        assert log.leader_epochs.end_offset_for(4) == (3, 3)


def test_follower_append_learns_epochs_from_batches(tmp_path):
    """Goal: without leader_epoch the batch's own partition leader epoch feeds the cache."""
    with PartitionLog.open(tmp_path / "p") as log:
        log.append(build_batch([Record(None, b"a")], base_offset=0, timestamp_ms=1, partition_leader_epoch=2),
                   assign_offsets=False)
        log.append(build_batch([Record(None, b"b")], base_offset=1, timestamp_ms=1, partition_leader_epoch=4),
                   assign_offsets=False)
        assert log.leader_epochs.entries == [(2, 0), (4, 1)]


def test_truncate_to_removes_tail_segments_and_epochs(tmp_path):
    """Goal: truncate_to drops every batch from the one holding the offset, across segments,
    drops later epochs, survives restart, and appends continue from the new end."""
    with PartitionLog.open(tmp_path / "p", SMALL) as log:
        for i in range(30):
            log.append(batch(i), leader_epoch=1 if i < 20 else 2)
        assert len(log.segment_base_offsets()) > 2
        assert log.truncate_to(12) == 12
        assert log.log_end_offset == 12
        assert log.leader_epochs.entries == [(1, 0)]
        assert all(b <= 12 for b in log.segment_base_offsets())
        assert log.append(batch(50), leader_epoch=3).base_offset == 12
    with PartitionLog.open(tmp_path / "p", SMALL) as log:
        assert [o for o, _ in read_all(log)] == list(range(13))
        assert read_all(log)[-1][1] == b"v50-0"
        assert log.leader_epochs.entries == [(1, 0), (3, 12)]


def test_truncate_inside_batch_cuts_at_batch_start(tmp_path):
    """Goal: truncating into the middle of a batch removes the whole batch."""
    with PartitionLog.open(tmp_path / "p") as log:
        log.append(batch(0, n=3))
        log.append(batch(1, n=3))
        assert log.truncate_to(4) == 3
        assert log.log_end_offset == 3


def test_flush_from_worker_thread_while_appending(tmp_path):
    """Goal: flush() in another thread while append() runs never loses or reorders data and
    reports a durable offset no greater than the log end."""
    with PartitionLog.open(tmp_path / "p", SMALL) as log:
        stop = threading.Event()
        results: list[int] = []
        errors: list[BaseException] = []

        def flusher():
            try:
                while not stop.is_set():
                    results.append(log.flush())
            except BaseException as exc:  # reported below
                errors.append(exc)

        thread = threading.Thread(target=flusher)
        thread.start()
        try:
            for i in range(300):
                log.append(batch(i))
        finally:
            stop.set()
            thread.join(timeout=30)
        assert not errors
        assert results == sorted(results) and all(r <= 300 for r in results)
        assert log.flush() == 300
        assert [o for o, _ in read_all(log)] == list(range(300))


def test_closed_log_refuses_work(tmp_path):
    """Goal: a closed log raises LogClosedError instead of touching closed files."""
    log = PartitionLog.open(tmp_path / "p")
    log.append(batch(0))
    log.close()
    with pytest.raises(LogClosedError):
        log.append(batch(1))
    with pytest.raises(LogClosedError):
        log.read(0, 100)


def test_many_buffered_appends_round_trip(tmp_path):
    """Goal: appends that pass through the write buffer (several buffer fills) come back in
    order, byte for byte, before and after a restart."""
    cfg = LogConfig(write_buffer_bytes_max=1000)
    originals = [batch(i, n=1 + i % 4) for i in range(200)]
    with PartitionLog.open(tmp_path / "p", cfg) as log:
        for b in originals:
            log.append(b)
        first = read_all(log)
        assert [o for o, _ in first] == list(range(log.log_end_offset))
    with PartitionLog.open(tmp_path / "p", cfg) as log:
        assert read_all(log) == first
        stored = log.read(0, 10**6)
        pos = 0
        for b in originals:
            header = parse_header(stored, pos)
            assert stored[pos + 8 : pos + header.size] == b[8:]
            pos += header.size


def test_mutable_input_is_copied_before_buffering(tmp_path):
    """Goal: a caller reusing its bytearray after append() cannot change what the log stores."""
    original = batch(1)
    reused = bytearray(original)
    with PartitionLog.open(tmp_path / "p") as log:
        log.append(reused)
        reused[20:] = b"\xff" * (len(reused) - 20)
        assert log.read(0, 1000)[8:] == original[8:]


def test_write_failure_takes_log_offline_and_reopen_recovers(tmp_path, monkeypatch):
    """Goal: an I/O error while writing raises LogDirError, stops the log (no half-written
    batch is ever served), and a reopen serves exactly the batches written before."""
    from rafka.log.errors import LogDirError
    from rafka.log.fs import OsFs

    class FullDisk(OsFs):
        failing = False

        def writev(self, fd, parts):
            if self.failing:
                raise OSError(28, "No space left on device")
            return super().writev(fd, parts)

    fs = FullDisk()
    cfg = LogConfig(write_buffer_bytes_max=0)  # every append writes at once
    log = PartitionLog.open(tmp_path / "p", cfg, fs=fs)
    for i in range(3):
        log.append(batch(i))

    fs.failing = True
    with pytest.raises(LogDirError):
        log.append(batch(3))
    with pytest.raises(LogClosedError):
        log.read(0, 100)
    with PartitionLog.open(tmp_path / "p", cfg) as again:
        assert [o for o, _ in read_all(again)] == [0, 1, 2]


@pytest.mark.parametrize("layout", ["one_segment", "sealed_segment_reactivated", "rolled_after_truncation"])
@pytest.mark.parametrize("flush_before_truncate", [True, False])
@pytest.mark.parametrize("write_buffer_bytes_max", [1, 256 * 1024])
def test_append_after_truncate_lands_at_new_end_without_gap(tmp_path, layout, flush_before_truncate,
                                                            write_buffer_bytes_max):
    """Goal (regression for a reported bug): after truncate_to the next append is written
    exactly at the cut, leaving no gap of zeros in the file, so a reopen finds every batch.
    Repro from the report: append 3 batches, flush(), truncate_to(1), append one batch,
    reopen -> log_end_offset must be 2 (the bug would give 1). Covered with and without a
    flush, buffered and unbuffered writes, and across segments: the truncated segment is the
    active one, a sealed one made active again, or one that is full so the append rolls."""
    batch_bytes = len(batch(0))
    per_segment = {"one_segment": 10, "sealed_segment_reactivated": 2, "rolled_after_truncation": 1}[layout]
    cfg = LogConfig(segment_bytes_max=per_segment * batch_bytes, index_interval_bytes=0,
                    write_buffer_bytes_max=write_buffer_bytes_max)
    path = tmp_path / "p"
    with PartitionLog.open(path, cfg) as log:
        for i in range(3):
            log.append(batch(i))
        if flush_before_truncate:
            assert log.flush() == 3
        segments_before = len(log.segment_base_offsets())
        assert log.truncate_to(1) == 1
        assert log.append(batch(9)).base_offset == 1
        assert log.log_end_offset == 2
        assert [v for _, v in read_all(log)] == [b"v0-0", b"v9-0"]
        if layout == "one_segment":
            assert segments_before == 1 and log.segment_base_offsets() == [0]
        elif layout == "sealed_segment_reactivated":
            assert segments_before == 2 and log.segment_base_offsets() == [0]
        else:
            assert segments_before == 3 and log.segment_base_offsets() == [0, 1]
    log_files = [f for f in dir_files(path) if f.endswith(".log")]
    assert sum(os.path.getsize(path / f) for f in log_files) == 2 * batch_bytes  # no zero gap
    with PartitionLog.open(path, cfg) as log:
        assert log.log_end_offset == 2
        assert [v for _, v in read_all(log)] == [b"v0-0", b"v9-0"]
        assert log.append(batch(10)).base_offset == 2


def test_append_after_truncate_survives_crash_without_close(tmp_path):
    """Goal: the truncate-then-append repro also holds when the process dies after a flush
    without closing (no index files, recovery scans the segment): nothing is lost or gapped."""
    path = tmp_path / "p"
    log = PartitionLog.open(path, SMALL)
    for i in range(3):
        log.append(batch(i))
    log.flush()
    log.truncate_to(1)
    log.append(batch(9))
    log.flush()
    for seg in log._segments:  # simulate a crash: release the files without close()
        seg.delete_pending_and_close()
    with PartitionLog.open(path, SMALL) as reopened:
        assert reopened.log_end_offset == 2
        assert [v for _, v in read_all(reopened)] == [b"v0-0", b"v9-0"]


def test_roll_reason_is_the_one_roll_rule():
    """Goal: the roll rule lives in one pure function (append and _roll both
    use it): size first, then age, a full index, then offset overflow."""
    from rafka.log.partition_log import RELATIVE_OFFSET_MAX, roll_reason

    class Seg:
        size = 100
        rolling_base_ms = 0
        base_offset = 10
        index = [0] * 3

    cfg = LogConfig(segment_bytes_max=150, segment_ms_max=1000, index_bytes_max=8 * 4)
    seg = Seg()
    assert roll_reason(seg, 40, 20, 999, cfg) is None
    assert roll_reason(seg, 51, 20, 0, cfg) == "size"
    assert roll_reason(seg, 40, 20, 1000, cfg) == "age"
    seg.index = [0] * 4
    assert roll_reason(seg, 40, 20, 0, cfg) == "index_full"
    seg.index = []
    assert roll_reason(seg, 40, 10 + RELATIVE_OFFSET_MAX + 1, 0, cfg) == "offset_range"
