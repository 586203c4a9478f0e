"""DiskStorage over the crash file layer (tests/sim/crashfs.py): a conflict
truncation never loses kept entries, whatever instant a crash hits (issue 9
and its two reproductions); a crash inside apply_snapshot never leaves a
suffix that does not follow the snapshot."""

from __future__ import annotations

import random

import pytest

from rafka.raft.disk_storage import DiskStorage
from rafka.raft.errors import StorageError
from rafka.raft.types import ConfigState, Entry, EntryKind, HardState, Snapshot, SnapshotMeta
from tests.sim.crashfs import CrashFs, SimulatedCrash

BOOT = ConfigState(frozenset({1, 2, 3}))
DIR = "/data/metadata"


def _run(term: int, lo: int, hi: int, tag: bytes = b"") -> list[Entry]:
    return [Entry(term, i, EntryKind.NORMAL, tag + b"e%d" % i) for i in range(lo, hi + 1)]


def _open(fs: CrashFs) -> DiskStorage:
    return DiskStorage.open(DIR, BOOT, fs=fs, now_ms=lambda: 0)


def _log(s: DiskStorage) -> list[tuple[int, int, bytes]]:
    return [(e.index, e.term, e.data) for e in s.entries(s.first_index(), s.last_index() + 1)]


def test_repro_1_conflict_inside_a_batch_then_crash_keeps_the_head():
    """Goal (issue 9, reproduction 1): one fsynced batch holds entries 1-4 of
    term 1; a leader of term 2 sends a conflicting entry at 4; a crash before
    the next sync must leave entries 1-3 (the bug left last_index() == 0)."""
    fs = CrashFs()
    s = _open(fs)
    s.append(_run(1, 1, 4))
    s.sync()
    s.append(_run(2, 4, 4, b"new"))
    fs.crash()
    s = _open(fs)
    assert s.last_index() >= 3
    assert _log(s)[:3] == [(i, 1, b"e%d" % i) for i in (1, 2, 3)]


def test_repro_2_conflict_after_snapshot_and_restart_reads_the_head_from_disk():
    """Goal (issue 9, reproduction 2): one batch 1-10 of term 1 on disk, a
    snapshot at 5, a restart (the memory copy starts after 5); a leader of
    term 2 overwrites from 8. The append must not fail (the bug raised
    CompactedError inside persist) and, synced or crashed, 6-7 survive."""
    for crash_before_sync in (False, True):
        fs = CrashFs()
        s = _open(fs)
        s.append(_run(1, 1, 10))
        s.sync()
        s.create_snapshot(Snapshot(SnapshotMeta(5, 1, BOOT), b"state@5"))
        s.compact(5)
        s.close()
        s = _open(fs)
        assert s.first_index() == 6
        s.append(_run(2, 8, 9, b"new"))
        if crash_before_sync:
            fs.crash()
        else:
            s.sync()
            s.close()
        s = _open(fs)
        assert s.snapshot().meta.index == 5
        got = _log(s)
        assert got[:2] == [(6, 1, b"e6"), (7, 1, b"e7")]
        if not crash_before_sync:
            assert got[2:] == [(8, 2, b"newe8"), (9, 2, b"newe9")]


def _conflict_states(ops_before_crash: int, torn_seed: int | None):
    """Build a log of several batches across segments, sync, then conflict
    inside the middle of a batch with a crash after `ops_before_crash` file
    operations; return the log after the reopen."""
    from rafka.log.config import LogConfig

    fs = CrashFs()
    cfg = LogConfig(segment_bytes_max=300, batch_bytes_max=1 << 20, retention_ms=-1, retention_bytes=-1)
    s = DiskStorage.open(DIR, BOOT, fs=fs, now_ms=lambda: 0, log_config=cfg)
    for lo in range(1, 25, 4):
        s.append(_run(1, lo, lo + 3))
    s.sync()
    s.set_hard_state(HardState(term=2, vote=2, commit=0))
    fs.arm(ops_before_crash)
    finished = False
    try:
        s.append(_run(2, 11, 13, b"new"))
        s.sync()
        finished = True
    except SimulatedCrash:
        pass
    fs.crash(random.Random(torn_seed), torn=torn_seed is not None)
    s = DiskStorage.open(DIR, BOOT, fs=fs, now_ms=lambda: 0, log_config=cfg)
    return finished, _log(s)


@pytest.mark.parametrize("torn_seed", [None, 1, 2])
def test_a_crash_at_every_step_of_a_conflict_leaves_the_old_or_the_new_log(torn_seed):
    """Goal: a crash at each file operation of a conflicting append (cut
    inside a batch of a multi-segment log) leaves either a prefix of the old
    log at least up to the conflict, or the new log; every kept entry
    1..10 survives."""
    old = [(i, 1, b"e%d" % i) for i in range(1, 25)]
    new = old[:10] + [(i, 2, b"newe%d" % i) for i in (11, 12, 13)]
    ops = 1
    while True:
        finished, got = _conflict_states(ops, torn_seed)
        assert got[:10] == old[:10], f"crash after {ops} ops lost kept entries"
        assert got == new or (len(got) >= 10 and got == old[: len(got)]) or got == new[: len(got)], (
            f"crash after {ops} ops: {got}")
        if finished:
            assert got == new
            break
        ops += 1
        assert ops < 200
    assert ops > 5  # the conflict really took several file operations


def test_a_crash_inside_apply_snapshot_never_keeps_a_suffix_that_does_not_follow_it():
    """Goal: when the snapshot file is durable but the old log (which
    disagrees at the snapshot index) was not yet dropped, a reopen drops the
    log after the snapshot instead of appending term-1 entries after a
    term-2 snapshot."""
    for ops in range(1, 40):
        fs = CrashFs()
        s = _open(fs)
        s.append(_run(1, 1, 8))
        s.sync()
        fs.arm(ops)
        try:
            s.apply_snapshot(Snapshot(SnapshotMeta(5, 2, BOOT), b"leader-state"))
            done = True
        except SimulatedCrash:
            done = False
        fs.crash()
        s = _open(fs)
        snap = s.snapshot().meta
        if snap.index == 5:
            assert snap.term == 2
            assert s.last_index() == 5, f"crash after {ops} ops kept a suffix after the snapshot"
        else:
            assert snap.index == 0 and _log(s) == [(i, 1, b"e%d" % i) for i in range(1, 9)]
        if done:
            break


def test_truncate_refuses_a_head_that_does_not_end_at_the_cut():
    """Goal: PartitionLog checks a caller's head before touching anything."""
    from rafka.log.errors import InvalidOffsetError
    from rafka.raft.disk_codec import encode_entries

    fs = CrashFs()
    s = _open(fs)
    s.append(_run(1, 1, 6))
    s.sync()
    with pytest.raises(InvalidOffsetError):
        s._plog.truncate_to(4, head=encode_entries(_run(1, 1, 2)))
    assert s._plog.log_end_offset == 7
    with pytest.raises(StorageError):
        s.append(_run(2, 9, 9))  # a gap is still refused


def test_the_metadata_directory_is_fsynced_into_its_parent():
    """Goal: DiskStorage creates its directory (and parents) durably: term
    and vote written right after the first open survive a power loss."""
    fs = CrashFs()
    s = _open(fs)
    s.set_hard_state(HardState(term=3, vote=1, commit=0))
    fs.crash()
    assert fs.isdir(DIR)
    hs = _open(fs).hard_state
    assert (hs.term, hs.vote) == (3, 1)
