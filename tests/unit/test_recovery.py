"""Recovery on open: torn tails, flipped bytes, lost files; crash tests.

A "crash" is simulated by copying the directory of a log that was never
closed (what the disk holds when the process dies), then damaging the copy.
"""

from __future__ import annotations

import os
import random
import shutil

import pytest
from structlog.testing import capture_logs

from rafka.log.batch import parse_header
from rafka.log.config import LogConfig
from rafka.log.partition_log import PartitionLog
from rafka.log.records import Record, build_batch, decode_batch

CFG = LogConfig(segment_bytes_max=600, index_interval_bytes=100)
PLE_FIELD = range(12, 16)  # partition leader epoch: outside the CRC by design (as in Kafka)


def batch(i: int) -> bytes:
    return build_batch([Record(b"k", b"value-%d" % i)], timestamp_ms=1_000 + i)


def values(log: PartitionLog) -> list[tuple[int, bytes]]:
    out, offset = [], log.log_start_offset
    while offset < log.log_end_offset:
        data = log.read(offset, 4096)
        pos = 0
        while pos < len(data):
            header, records = decode_batch(data, pos)
            out += [(r.offset, r.value) for r in records]
            pos += header.size
            offset = header.next_offset
    return out


def crashed_copy(tmp_path, n_batches: int = 12):
    """A log with `n_batches` flushed one-record batches, copied without closing it.
    Returns (directory, expected records, active segment file name, batch positions in it)."""
    src = tmp_path / "src"
    log = PartitionLog.open(src, CFG)
    for i in range(n_batches):
        log.append(batch(i))
    log.flush()
    expected = values(log)
    active = f"{log.segment_base_offsets()[-1]:020d}.log"
    crashed = tmp_path / "crashed"
    shutil.copytree(src, crashed)
    log.close()
    data = (crashed / active).read_bytes()
    positions, pos = [], 0
    while pos < len(data):
        positions.append(pos)
        pos += parse_header(data, pos).size
    assert len(positions) >= 2, "the active segment should hold several batches"
    return crashed, expected, active, positions


def recovered_matches_prefix(path, expected, keep: int) -> None:
    """Reopen `path`; exactly the first `keep` records must remain, and the log must take
    new appends that survive another reopen."""
    with PartitionLog.open(path, CFG) as log:
        assert values(log) == expected[:keep]
        assert log.log_end_offset == keep
        assert log.append(batch(100)).base_offset == keep
    with PartitionLog.open(path, CFG) as log:
        assert values(log) == expected[:keep] + [(keep, b"value-100")]


def test_cut_at_every_byte_of_last_batch(tmp_path):
    """Goal: a segment torn at any byte inside its last batch recovers to exactly the batches
    before it, with one warning naming the file, offset and bytes cut."""
    crashed, expected, active, positions = crashed_copy(tmp_path)
    data = (crashed / active).read_bytes()
    last = positions[-1]
    keep = len(expected) - 1
    for cut in range(last, len(data)):
        trial = tmp_path / f"cut-{cut}"
        shutil.copytree(crashed, trial)
        with open(trial / active, "r+b") as f:
            f.truncate(cut)
        with capture_logs() as logs:
            with PartitionLog.open(trial, CFG) as log:
                assert values(log) == expected[:keep]
        warnings = [e for e in logs if e["log_level"] == "warning"]
        if cut == last:
            assert warnings == []  # a clean cut at a batch boundary is nothing to repair
        else:
            assert len(warnings) == 1, warnings
            w = warnings[0]
            assert w["event"] == "log_truncated_on_recovery"
            assert w["file"].endswith(active) and w["offset"] == keep and w["bytes_cut"] == cut - last
        if cut % 8 == 0 or cut in (last, last + 1, len(data) - 1):  # appending after recovery: a sample
            recovered_matches_prefix(trial, expected, keep)
        shutil.rmtree(trial)


def test_flipped_bytes_cut_log_at_damaged_batch(tmp_path):
    """Goal: a byte flipped anywhere a check covers (length, magic, CRC, body, base offset)
    in the active segment cuts the log right before the damaged batch (seeded)."""
    crashed, expected, active, positions = crashed_copy(tmp_path)
    data = (crashed / active).read_bytes()
    base = int(active[:20])
    rng = random.Random(1234)
    for trial_no in range(25):
        while True:
            at = rng.randrange(len(data))
            which = max(i for i, p in enumerate(positions) if p <= at)
            if at - positions[which] not in PLE_FIELD:
                break
        trial = tmp_path / f"flip-{trial_no}"
        shutil.copytree(crashed, trial)
        damaged = bytearray(data)
        damaged[at] ^= 1 << rng.randrange(8)
        (trial / active).write_bytes(bytes(damaged))
        with capture_logs() as logs:
            PartitionLog.open(trial, CFG).close()
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["log_truncated_on_recovery"]
        recovered_matches_prefix(trial, expected, base + which)
        shutil.rmtree(trial)


def test_damage_in_earlier_segment_after_recovery_point_deletes_later_segments(tmp_path):
    """Goal: when recovery scans several segments, damage in one deletes every later segment."""
    path = tmp_path / "p"
    log = PartitionLog.open(path, CFG)
    first_bases = log.segment_base_offsets()
    for i in range(30):
        log.append(batch(i))
    # no flush: the recovery point stays at 0, so every segment is scanned on reopen
    log._segments[-1].drain()
    bases = log.segment_base_offsets()
    assert first_bases == [0] and len(bases) >= 3
    crashed = tmp_path / "crashed"
    shutil.copytree(path, crashed)
    log.close()
    victim = crashed / f"{bases[1]:020d}.log"
    damaged = bytearray(victim.read_bytes())
    damaged[30] ^= 0xFF
    victim.write_bytes(bytes(damaged))
    with capture_logs() as logs:
        with PartitionLog.open(crashed, CFG) as again:
            assert again.log_end_offset == bases[1]
            assert again.segment_base_offsets() == [0]
    warning = [e for e in logs if e["log_level"] == "warning"][0]
    assert warning["segments_deleted"] == len(bases) - 1  # the damaged one (nothing valid left) too
    assert not (crashed / f"{bases[2]:020d}.log").exists()


@pytest.mark.parametrize("damage", ["delete", "garbage", "shifted", "truncated"])
def test_missing_or_damaged_index_is_rebuilt(tmp_path, damage):
    """Goal: a sealed segment whose index files are missing or damaged is still read right,
    and its index files are rewritten."""
    path = tmp_path / "p"
    with PartitionLog.open(path, CFG) as log:
        for i in range(40):
            log.append(batch(i))
        expected = values(log)
        bases = log.segment_base_offsets()
    index = path / f"{bases[0]:020d}.index"
    timeindex = path / f"{bases[0]:020d}.timeindex"
    original = index.read_bytes()
    assert len(original) >= 16
    if damage == "delete":
        index.unlink()
        timeindex.unlink()
    elif damage == "garbage":
        index.write_bytes(random.Random(7).randbytes(len(original)))
        timeindex.write_bytes(random.Random(8).randbytes(36))
    elif damage == "shifted":  # still increasing, but every position is off by 3 bytes
        raw = bytearray(original)
        for i in range(0, len(raw), 8):
            pos = int.from_bytes(raw[i + 4 : i + 8], "big") + 3
            raw[i + 4 : i + 8] = pos.to_bytes(4, "big")
        index.write_bytes(bytes(raw))
    else:
        index.write_bytes(original[:-3])
    with PartitionLog.open(path, CFG) as log:
        assert values(log) == expected
        for offset in range(log.log_end_offset):
            assert parse_header(log.read(offset, 1)).base_offset == offset
        assert log.offset_for_timestamp(1_000 + 5) == 5
    assert index.read_bytes() == original


def test_recovery_point_limits_the_scan(tmp_path):
    """Goal: segments wholly before the recovery point are trusted (not re-verified), segments
    after it are verified."""
    path = tmp_path / "p"
    log = PartitionLog.open(path, CFG)
    for i in range(40):
        log.append(batch(i))
    log.flush()
    bases = log.segment_base_offsets()
    assert log.recovery_point >= bases[-1] > bases[0]
    crashed = tmp_path / "crashed"
    shutil.copytree(path, crashed)
    log.close()
    # Damage the first (trusted) segment's body: not noticed on open, since it is below the
    # recovery point (Kafka behaves the same); reads of other segments still work.
    first = crashed / f"{bases[0]:020d}.log"
    damaged = bytearray(first.read_bytes())
    damaged[40] ^= 0xFF
    first.write_bytes(bytes(damaged))
    with capture_logs() as logs:
        with PartitionLog.open(crashed, CFG) as again:
            assert again.log_end_offset == 40
    assert not [e for e in logs if e["log_level"] == "warning"]


def test_missing_recovery_point_means_full_scan(tmp_path):
    """Goal: without a recovery-point file every segment is verified, so damage in the first
    segment is found and the log cut there."""
    path = tmp_path / "p"
    with PartitionLog.open(path, CFG) as log:
        for i in range(40):
            log.append(batch(i))
    os.remove(path / "recovery-point-offset-checkpoint")
    first = path / f"{0:020d}.log"
    damaged = bytearray(first.read_bytes())
    second_batch = parse_header(damaged).size
    damaged[second_batch + 30] ^= 0xFF
    first.write_bytes(bytes(damaged))
    with PartitionLog.open(path, CFG) as log:
        assert log.log_end_offset == 1
        assert log.segment_base_offsets() == [0]


def test_empty_and_stray_files(tmp_path):
    """Goal: an empty directory opens as an empty log; orphan index files and temp files are
    removed; unrelated files are left alone."""
    path = tmp_path / "p"
    path.mkdir()
    (path / "00000000000000000500.index").write_bytes(b"\0" * 8)
    (path / "00000000000000000000.index.tmp").write_bytes(b"x")
    (path / "hard-state").write_bytes(b"raft")
    with PartitionLog.open(path, CFG) as log:
        assert log.log_end_offset == 0 and log.log_start_offset == 0
        assert log.read(0, 100) == b""
    names = os.listdir(path)
    assert "00000000000000000500.index" not in names
    assert "00000000000000000000.index.tmp" not in names
    assert "hard-state" in names


def test_leftover_temp_segments_are_removed_on_open(tmp_path):
    """Goal: a crash mid-truncation (`.log.tmp`) or mid-compaction swap
    (`.log.cleaned`) leaves a temp segment that the next open removes; the
    log's records are untouched."""
    path = tmp_path / "p"
    with PartitionLog.open(path, CFG) as log:
        for i in range(3):
            log.append(batch(i))
        log.flush()
        want = values(log)
    for leftover in ("00000000000000000000.log.cleaned", "00000000000000000001.log.tmp"):
        (path / leftover).write_bytes(b"partial")
    with PartitionLog.open(path, CFG) as log:
        assert values(log) == want
    assert sorted(p.name for p in path.iterdir() if ".log." in p.name) == []
