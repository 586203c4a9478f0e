"""Goal: log compaction keeps the latest record per key in sealed segments,
drops tombstones only after delete.retention.ms, never touches the active
segment, keeps every offset and every batch's offset range (rewritten
batches valid, CRC correct, emptied batches kept empty), and swaps segments
in crash-atomically: a crash at every file operation of a cleaning pass
leaves, per segment, the old or the new bytes, never a loss of a record
compaction keeps and never a record that was not there."""

from __future__ import annotations

import random

import pytest

from rafka.log.batch import validate_batch
from rafka.log.compaction import build_key_map, clean_log, compact_segment, iter_batches
from rafka.log.config import LogConfig
from rafka.log.partition_log import PartitionLog
from rafka.log.records import Record, build_batch, decode_batch
from tests.sim.crashfs import CrashFs, SimulatedCrash

DAY_MS = 86_400_000


def batch(pairs, ts=1000, compression=0) -> bytes:
    return build_batch([Record(k, v) for k, v in pairs], timestamp_ms=ts, compression=compression)


def log_bytes(*batches) -> bytes:
    """Batches with dense offsets, as a segment holds them."""
    out = bytearray()
    offset = 0
    for b in batches:
        buf = bytearray(b)
        buf[0:8] = offset.to_bytes(8, "big")
        out += buf
        offset += validate_batch(buf).last_offset_delta + 1
    return bytes(out)


def records_of(data) -> list[tuple[int, bytes | None, bytes | None]]:
    out = []
    for pos, _h in iter_batches(data):
        _, recs = decode_batch(data, pos)
        out += [(r.offset, r.key, r.value) for r in recs]
    return out


def ranges(data) -> list[tuple[int, int]]:
    return [(h.base_offset, h.last_offset) for _, h in iter_batches(data)]


@pytest.mark.parametrize("compression", [0, 1])
def test_latest_per_key_survives_and_offsets_stay(compression):
    data = log_bytes(batch([(b"a", b"1"), (b"b", b"1"), (None, b"x")], compression=compression),
                     batch([(b"a", b"2"), (b"c", b"1")], compression=compression),
                     batch([(b"a", b"3"), (b"b", b"2")], compression=compression))
    latest, complete = build_key_map([data], 100)
    assert complete and latest == {b"a": 5, b"b": 6, b"c": 4}
    new, stats = compact_segment(data, latest, now_ms=2000, delete_retention_ms=DAY_MS)
    assert records_of(new) == [(2, None, b"x"), (4, b"c", b"1"), (5, b"a", b"3"), (6, b"b", b"2")]
    assert ranges(new) == ranges(data) == [(0, 2), (3, 4), (5, 6)]
    for pos, h in iter_batches(new):
        assert validate_batch(new, pos).record_count == h.record_count  # CRC and count valid
    assert (stats.records_in, stats.records_kept) == (7, 4) and len(new) < len(data)


def test_an_emptied_batch_is_kept_empty_and_uncompressed():
    data = log_bytes(batch([(b"a", b"1"), (b"b", b"1")], compression=1), batch([(b"a", b"2"), (b"b", b"2")]))
    latest, _ = build_key_map([data], 100)
    new, _ = compact_segment(data, latest, now_ms=2000, delete_retention_ms=DAY_MS)
    (pos0, h0), (_, h1) = list(iter_batches(new))
    assert (h0.base_offset, h0.last_offset, h0.record_count, h0.compression) == (0, 1, 0, 0)
    assert (h1.base_offset, h1.record_count) == (2, 2)
    assert decode_batch(new, pos0)[1] == []


def test_tombstones_go_only_after_delete_retention():
    data = log_bytes(batch([(b"a", b"1")], ts=1000), batch([(b"a", None)], ts=2000))
    latest, _ = build_key_map([data], 100)
    kept, _ = compact_segment(data, latest, now_ms=2000 + DAY_MS, delete_retention_ms=DAY_MS)
    assert records_of(kept) == [(1, b"a", None)]
    gone, stats = compact_segment(data, latest, now_ms=2001 + DAY_MS, delete_retention_ms=DAY_MS)
    assert records_of(gone) == [] and stats.tombstones_dropped == 1 and ranges(gone) == [(0, 0), (1, 1)]


def test_key_map_limit_reports_a_prefix():
    data = log_bytes(batch([(b"a", b"1"), (b"b", b"1"), (b"c", b"1")]))
    latest, complete = build_key_map([data], 2)
    assert not complete and set(latest) == {b"a", b"b"}


def _keyed_log(path, fs=None, *, rounds=6, keys=4) -> PartitionLog:
    cfg = LogConfig(segment_bytes_max=300, index_interval_bytes=0, retention_ms=-1)
    plog = PartitionLog.open(path, cfg, now_ms=lambda: 0, **({"fs": fs} if fs else {}))
    for r in range(rounds):
        for k in range(keys):
            plog.append(batch([(b"k%d" % k, b"r%d" % r)], ts=1000 + r))
    plog.flush()
    return plog


def _all_records(plog) -> list[tuple[int, bytes | None, bytes | None]]:
    out = []
    offset = plog.log_start_offset
    while offset < plog.log_end_offset:
        buf = plog.read(offset, 1 << 20)
        for pos, h in iter_batches(buf):
            out += [(r.offset, r.key, r.value) for r in decode_batch(buf, pos)[1]]
            offset = h.last_offset + 1
    return out


def _batch_ranges(plog) -> list[tuple[int, int]]:
    out = []
    offset = plog.log_start_offset
    while offset < plog.log_end_offset:
        buf = plog.read(offset, 1 << 20)
        for _, h in iter_batches(buf):
            out.append((h.base_offset, h.last_offset))
            offset = h.last_offset + 1
    return out


def test_clean_log_never_touches_the_active_segment(tmp_path):
    plog = _keyed_log(tmp_path / "t-0")
    before = _all_records(plog)
    ranges_before = _batch_ranges(plog)
    active_base = plog.segment_base_offsets()[-1]
    result = clean_log(plog, now_ms=2000, delete_retention_ms=DAY_MS, key_map_entries_max=100,
                       segments_per_pass_max=100)
    assert result.segments_cleaned >= 1
    after = _all_records(plog)
    assert _batch_ranges(plog) == ranges_before and plog.log_end_offset == 24
    sealed_end = active_base
    # Below the active segment: only the last record per key (over the sealed range).
    last_sealed = {}
    for o, k, v in before:
        if o < sealed_end:
            last_sealed[k] = o
    assert [r for r in after if r[0] < sealed_end] == [r for r in before if r[0] < sealed_end
                                                        and last_sealed[r[1]] == r[0]]
    assert [r for r in after if r[0] >= sealed_end] == [r for r in before if r[0] >= sealed_end]
    plog.close()
    again = PartitionLog.open(tmp_path / "t-0", plog.config, now_ms=lambda: 0)
    assert _all_records(again) == after and again.log_end_offset == 24
    again.append(batch([(b"k0", b"new")]))
    assert again.log_end_offset == 25
    again.close()


def _crash_run(k: int, torn_seed: int | None) -> bool:
    fs = CrashFs()
    plog = _keyed_log("/data/t-0", fs)
    original = _all_records(plog)
    ranges_before = _batch_ranges(plog)
    fs.arm(k)
    try:
        clean_log(plog, now_ms=2000, delete_retention_ms=DAY_MS, key_map_entries_max=100,
                  segments_per_pass_max=100)
    except SimulatedCrash:
        finished = False
    else:
        fs.disarm()
        finished = True
    fs.crash(random.Random(torn_seed), torn=torn_seed is not None)
    with PartitionLog.open("/data/t-0", plog.config, fs=fs, now_ms=lambda: 0) as again:
        got = _all_records(again)
        assert _batch_ranges(again) == ranges_before, f"crash at op {k}: batch ranges changed"
        assert set(got) <= set(original), f"crash at op {k}: invented records"
        latest = {}
        for o, key, _v in original:
            latest[key] = o
        survivors = [r for r in original if latest[r[1]] == r[0]]
        assert all(r in got for r in survivors), f"crash at op {k}: a latest record was lost"
        assert again.log_end_offset == len(original)
    return finished


@pytest.mark.parametrize("torn_seed", [None, 3])
def test_a_crash_at_every_file_operation_of_a_pass_leaves_old_or_new_segments(torn_seed):
    k = 1
    while not _crash_run(k, torn_seed):
        k += 1
        assert k < 2000
    assert k > 10  # the pass did file work worth crashing in


def test_a_pass_rewrites_up_to_its_limit_of_segments_that_need_it(tmp_path):
    """Goal: segments_per_pass_max counts rewritten segments, so clean
    segments at the front never starve later dirty ones."""
    plog = _keyed_log(tmp_path / "t-0")
    first = clean_log(plog, now_ms=2000, delete_retention_ms=DAY_MS, key_map_entries_max=100,
                      segments_per_pass_max=1)
    assert first.segments_cleaned == 1
    passes = 1
    while clean_log(plog, now_ms=2000, delete_retention_ms=DAY_MS, key_map_entries_max=100,
                    segments_per_pass_max=1).segments_cleaned:
        passes += 1
        assert passes < 50
    sealed_end = plog.segment_base_offsets()[-1]
    keys = [k for o, k, _ in _all_records(plog) if o < sealed_end]
    assert passes > 1 and len(keys) == len(set(keys))
    plog.close()
