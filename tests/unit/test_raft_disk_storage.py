"""DiskStorage: term, vote, entries and snapshots survive a reopen; conflicts
truncate; a torn tail is cut on open; a damaged snapshot file is skipped."""

from __future__ import annotations

import os
import random

import pytest

from rafka.log.batch import parse_header
from rafka.log.partition_log import PartitionLog
from rafka.raft.config import RaftConfig
from rafka.raft.core import RaftCore
from rafka.raft.disk_storage import COMMIT_NAME, HARD_STATE_NAME, LOG_DIR_NAME, DiskStorage
from rafka.raft.errors import StorageError
from rafka.raft.types import ConfigState, Entry, EntryKind, HardState, Snapshot, SnapshotMeta

BOOT = ConfigState(frozenset({1, 2, 3}))


def _entries(terms_and_data):
    return [Entry(t, i + 1, EntryKind.NORMAL, d) for i, (t, d) in enumerate(terms_and_data)]


def _segment_file(path) -> str:
    log_dir = os.path.join(path, LOG_DIR_NAME)
    return os.path.join(log_dir, sorted(n for n in os.listdir(log_dir) if n.endswith(".log"))[-1])


def test_hard_state_and_entries_survive_reopen(tmp_path):
    """Goal: after append+sync+set_hard_state and a reopen, term, vote,
    commit and every entry (term, index, kind, data) are back."""
    s = DiskStorage.open(tmp_path, BOOT)
    ents = _entries([(1, b"a"), (1, b"b"), (2, b"c")]) + [Entry(2, 4, EntryKind.CONFIG, BOOT.encode())]
    s.append(ents)
    s.sync()
    s.set_hard_state(HardState(term=2, vote=3, commit=3))
    s.close()
    s2 = DiskStorage.open(tmp_path, BOOT)
    hs, conf = s2.initial_state()
    assert hs == HardState(2, 3, 3)
    assert conf == BOOT
    assert s2.first_index() == 1 and s2.last_index() == 4
    assert s2.entries(1, 5) == ents
    s2.close()


def test_term_is_stored_in_partition_leader_epoch(tmp_path):
    """Goal: each same-term run is one batch whose partition-leader-epoch is
    the Raft term, at offset == Raft index (readable by dump-log)."""
    s = DiskStorage.open(tmp_path, BOOT)
    s.append(_entries([(1, b"a"), (1, b"b"), (3, b"c")]))
    s.sync()
    s.close()
    plog = PartitionLog.open(os.path.join(tmp_path, LOG_DIR_NAME))
    buf = plog.read(1, 1 << 20)
    first = parse_header(buf, 0)
    second = parse_header(buf, first.size)
    assert (first.base_offset, first.record_count, first.partition_leader_epoch) == (1, 2, 1)
    assert (second.base_offset, second.partition_leader_epoch) == (3, 3)
    plog.close()


def test_conflicting_suffix_is_truncated_on_disk(tmp_path):
    """Goal: appending at an index inside the stored log replaces the suffix,
    also after a reopen, even when the cut falls inside a batch."""
    s = DiskStorage.open(tmp_path, BOOT)
    s.append(_entries([(1, b"a"), (1, b"b"), (1, b"c"), (1, b"d")]))
    s.sync()
    s.append([Entry(2, 3, EntryKind.NORMAL, b"X")])
    s.sync()
    s.close()
    s2 = DiskStorage.open(tmp_path, BOOT)
    assert [(e.term, e.data) for e in s2.entries(1, s2.last_index() + 1)] == [(1, b"a"), (1, b"b"), (2, b"X")]
    s2.close()


def test_conflict_truncation_says_how_many_entries_and_why(tmp_path):
    """Goal: cutting a conflicting suffix is logged with the number of Raft
    entries cut and the reason (the leader's term against ours); a fresh
    log's first start logs no warning at all."""
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        s = DiskStorage.open(tmp_path, BOOT)
    assert [e for e in logs if e["log_level"] == "warning"] == []
    s.append(_entries([(1, b"a"), (1, b"b"), (1, b"c"), (1, b"d")]))
    s.sync()
    with capture_logs() as logs:
        s.append([Entry(2, 2, EntryKind.NORMAL, b"X")])
    [cut] = [e for e in logs if e["event"] == "raft_log_truncated"]
    assert cut["entries_cut"] == 3 and cut["from_index"] == 2 and cut["log_level"] == "warning"
    assert cut["reason"] == "conflict with leader at term 2: our entry 2 has term 1"
    s.close()


def test_appends_after_repeated_conflicts_land_at_the_new_end(tmp_path):
    """Goal: with no reopen between truncations, each conflicting append replaces the suffix in
    place and later appends follow it without a gap, whether or not the cut data was synced:
    after a reopen the log is exactly the expected entries."""
    s = DiskStorage.open(tmp_path, BOOT)
    s.append(_entries([(1, b"a"), (1, b"b"), (1, b"c"), (1, b"d")]))  # not synced
    s.append([Entry(2, 2, EntryKind.NORMAL, b"X")])  # cut inside the first batch
    s.append([Entry(2, 3, EntryKind.NORMAL, b"Y"), Entry(2, 4, EntryKind.NORMAL, b"Z")])
    s.sync()
    s.append([Entry(3, 4, EntryKind.NORMAL, b"W")])  # cut a synced batch
    s.append([Entry(3, 5, EntryKind.NORMAL, b"V")])
    s.sync()
    expected = [(1, b"a"), (2, b"X"), (2, b"Y"), (3, b"W"), (3, b"V")]
    assert [(e.term, e.data) for e in s.entries(1, s.last_index() + 1)] == expected
    s.close()
    s2 = DiskStorage.open(tmp_path, BOOT)
    assert s2.last_index() == 5
    assert [(e.term, e.data) for e in s2.entries(1, 6)] == expected
    s2.close()


def test_torn_tail_is_cut_on_open(tmp_path):
    """Goal: garbage after the last whole batch (a torn write) is cut on
    open; every complete entry survives."""
    s = DiskStorage.open(tmp_path, BOOT)
    s.append(_entries([(1, b"a"), (1, b"b")]))
    s.sync()
    s.append([Entry(2, 3, EntryKind.NORMAL, b"c" * 100)])
    s.sync()
    s.close()
    seg = _segment_file(tmp_path)
    size = os.path.getsize(seg)
    with open(seg, "r+b") as f:
        f.truncate(size - 30)  # tear the last batch
    s2 = DiskStorage.open(tmp_path, BOOT)
    assert s2.last_index() == 2
    assert [e.data for e in s2.entries(1, 3)] == [b"a", b"b"]
    s2.append([Entry(3, 3, EntryKind.NORMAL, b"new")])
    s2.sync()
    s2.close()
    assert DiskStorage.open(tmp_path, BOOT).entries(3, 4)[0].data == b"new"


def test_snapshot_and_compaction_survive_reopen(tmp_path):
    """Goal: create_snapshot + compact persist: on reopen the snapshot (meta,
    config, data) is back and entries start right after it."""
    s = DiskStorage.open(tmp_path, BOOT)
    s.append(_entries([(1, b"%d" % i) for i in range(10)]))
    s.sync()
    conf = ConfigState(frozenset({1, 2}), frozenset({3}))
    s.create_snapshot(Snapshot(SnapshotMeta(6, 1, conf), b"state@6"))
    s.compact(6)
    s.close()
    s2 = DiskStorage.open(tmp_path, BOOT)
    assert s2.snapshot() == Snapshot(SnapshotMeta(6, 1, conf), b"state@6")
    assert s2.initial_state()[1] == conf
    assert s2.first_index() == 7 and s2.last_index() == 10
    assert s2.term(6) == 1
    assert [e.data for e in s2.entries(7, 11)] == [b"6", b"7", b"8", b"9"]
    s2.close()


def test_apply_snapshot_replaces_the_log(tmp_path):
    """Goal: installing a leader's snapshot drops the whole old log; after a
    reopen the log continues right after the snapshot."""
    s = DiskStorage.open(tmp_path, BOOT)
    s.append(_entries([(1, b"old%d" % i) for i in range(3)]))
    s.sync()
    s.apply_snapshot(Snapshot(SnapshotMeta(20, 4, BOOT), b"big"))
    s.append([Entry(4, 21, EntryKind.NORMAL, b"next")])
    s.sync()
    s.close()
    s2 = DiskStorage.open(tmp_path, BOOT)
    assert s2.snapshot().meta.index == 20 and s2.first_index() == 21
    assert s2.entries(21, 22)[0].data == b"next"
    s2.close()


def test_damaged_snapshot_falls_back_and_bad_hard_state_is_typed(tmp_path):
    """Goal: a corrupt newest snapshot file is skipped for the older one; a
    corrupt hard-state file raises StorageError (never silently zeroed)."""
    s = DiskStorage.open(tmp_path, BOOT)
    s.append(_entries([(1, b"%d" % i) for i in range(8)]))
    s.sync()
    s.create_snapshot(Snapshot(SnapshotMeta(3, 1, BOOT), b"s3"))
    s.set_hard_state(HardState(1, 1, 8))
    s.close()
    with open(os.path.join(tmp_path, "snapshot-%020d.snap" % 5), "wb") as f:
        f.write(b"\x00garbage")
    s2 = DiskStorage.open(tmp_path, BOOT)
    assert s2.snapshot().data == b"s3"
    s2.close()
    with open(os.path.join(tmp_path, HARD_STATE_NAME), "r+b") as f:
        f.write(b"\xff\xff")
    with pytest.raises(StorageError):
        DiskStorage.open(tmp_path, BOOT)


def test_core_restarts_on_disk_storage(tmp_path):
    """Goal: a single-node core persisting through DiskStorage comes back
    after a reopen with its term, vote and committed entries."""
    cfg = RaftConfig(election_timeout_ticks=3, heartbeat_ticks=1)
    s = DiskStorage.open(tmp_path, ConfigState(frozenset({1})))
    core = RaftCore(1, cfg, s, random.Random(0))

    def drain():
        while core.has_ready():
            rd = core.ready()
            s.append(rd.entries)
            s.sync()
            if rd.hard_state:
                s.set_hard_state(rd.hard_state)
            core.advance(rd)

    for _ in range(10):
        core.tick()
        drain()
    idx = core.propose(b"durable")
    drain()
    term = core.term
    s.close()
    s2 = DiskStorage.open(tmp_path, ConfigState(frozenset({1})))
    core2 = RaftCore(1, cfg, s2, random.Random(1))
    assert core2.term == term and core2.vote == 1
    assert core2.log.committed == idx
    assert s2.entries(idx, idx + 1)[0].data == b"durable"
    s2.close()


def test_damaged_commit_file_means_commit_unknown(tmp_path):
    """Goal: the commit index (written without fsync by design) may be lost
    in a crash; a damaged commit file opens as commit 0 with term and vote
    intact, instead of refusing to start."""
    s = DiskStorage.open(tmp_path, BOOT)
    s.append(_entries([(1, b"a"), (1, b"b")]))
    s.sync()
    s.set_hard_state(HardState(1, 2, 2))
    s.close()
    with open(os.path.join(tmp_path, COMMIT_NAME), "wb") as f:
        f.write(b"")
    s2 = DiskStorage.open(tmp_path, BOOT)
    assert s2.initial_state()[0] == HardState(1, 2, 0)
    s2.close()
