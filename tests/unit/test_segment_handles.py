"""The broker-wide bound on open segment files (log/segment_handles.py):
logs sharing a SegmentHandles keep at most `open_max` segment files open
once their bytes are fsynced, read and append correctly through reopened
files and reloaded indexes, never close a file holding unsynced bytes, never
read a closed descriptor while other threads evict, and stay crash-atomic."""

from __future__ import annotations

import os
import random
import threading

import pytest

from rafka.log.config import LogConfig
from rafka.log.partition_log import PartitionLog
from rafka.log.records import Record, build_batch, decode_batch
from rafka.log.segment import INDEX_SUFFIX
from rafka.log.segment_handles import SegmentHandles, SegmentHandlesError
from tests.unit.test_partition_log_crash import _run as run_crash_scenario

# Small segments (a few batches each) and an index entry per batch.
CFG = LogConfig(segment_bytes_max=300, index_interval_bytes=0, retention_ms=-1, write_buffer_bytes_max=0)


def _batch(tag: str, i: int) -> bytes:
    return build_batch([Record(b"k", f"{tag}-{i}".encode())], timestamp_ms=1000 + i)


def _values(log: PartitionLog, offset: int) -> list[bytes]:
    """Every record value from `offset` to the log end, read batch by batch."""
    out = []
    while offset < log.log_end_offset:
        buf = log.read(offset, 64)
        pos = 0
        while pos < len(buf):
            header, records = decode_batch(buf, pos)
            out.extend(r.value for r in records)
            pos += header.size
            offset = header.last_offset + 1
    return out


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_limit_must_be_positive():
    for bad in (0, -1, True, "8"):
        with pytest.raises(SegmentHandlesError):
            SegmentHandles(bad)


def test_one_log_of_many_segments_holds_at_most_the_limit_open(tmp_path):
    """Goal: a log with 30 segments, reopened with open_max=3, holds at most
    3 segment files open (counted by the cache and by /proc/self/fd), and
    every record reads back through reopened files and reloaded indexes."""
    with PartitionLog.open(tmp_path / "t-0", CFG) as log:
        for i in range(120):
            log.append(_batch("a", i))
        assert len(log.segment_base_offsets()) >= 30
    handles = SegmentHandles(3)
    before = _open_fds()
    with PartitionLog.open(tmp_path / "t-0", CFG, handles=handles) as log:
        assert handles.open_count <= 3
        assert _open_fds() - before <= 3
        assert _values(log, 0) == [f"a-{i}".encode() for i in range(120)]
        assert _values(log, 77) == [f"a-{i}".encode() for i in range(77, 120)]
        assert log.offset_for_timestamp(1000 + 55) == 55
        assert handles.open_count <= 3 and _open_fds() - before <= 3
        assert handles.reopens > 0 and handles.evictions > 0
        # the active segment reopens for appends, which land at the log end
        log.append(_batch("a", 120))
        log.flush()
        assert _values(log, 118) == [b"a-118", b"a-119", b"a-120"]
    assert _open_fds() == before
    assert handles.open_count == 0


def test_evicted_sealed_segment_drops_and_reloads_its_indexes(tmp_path):
    """Goal: the cache frees a sealed segment's index arrays with its file
    and they come back from the index files; a damaged index file is
    rebuilt from the batches instead of misleading a read."""
    with PartitionLog.open(tmp_path / "t-0", CFG) as log:
        for i in range(40):
            log.append(_batch("b", i))
    handles = SegmentHandles(1)
    with PartitionLog.open(tmp_path / "t-0", CFG, handles=handles) as log:
        first = log._segments[0]
        assert not first.is_open and first._index is None
        assert _values(log, 1) == [f"b-{i}".encode() for i in range(1, 40)]
        log._segments[-1].index  # another segment used: the first is evicted again
        assert first._index is None
        with open(first.path(INDEX_SUFFIX), "r+b") as f:
            f.write(b"\xff" * 8)  # its first entry now points far away
        assert _values(log, first.base_offset + 1)[:2] == [b"b-1", b"b-2"]
        assert first.indexes_written


def test_many_logs_share_one_bound(tmp_path):
    """Goal: 40 partitions appended and flushed hold at most the limit of
    files open, appends after eviction land at each log's end, and reads of
    every partition see exactly what was appended."""
    handles = SegmentHandles(8)
    before = _open_fds()
    logs = [PartitionLog.open(tmp_path / f"t-{p}", CFG, handles=handles) for p in range(40)]
    try:
        for round_ in range(3):
            for p, log in enumerate(logs):
                log.append(_batch(f"p{p}", round_))
            for log in logs:
                log.flush()
            assert handles.open_count <= 8
            assert _open_fds() - before <= 8
        for p, log in enumerate(logs):
            assert _values(log, 0) == [f"p{p}-{r}".encode() for r in range(3)]
    finally:
        for log in logs:
            log.close()
    assert _open_fds() == before


def test_a_file_with_unsynced_bytes_is_never_closed(tmp_path):
    """Goal: appended but not yet fsynced segments stay open whatever the
    limit and whatever offers them to the cache (here a delete_before, which
    parks every idle segment of its log, while other logs open and evict):
    an fsync through a reopened descriptor might miss a write-back error.
    Once flushed they are closable and the count falls to the limit."""
    handles = SegmentHandles(1)
    logs = [PartitionLog.open(tmp_path / f"t-{p}", CFG, handles=handles) for p in range(6)]
    try:
        for p, log in enumerate(logs):
            for i in range(12):
                log.append(_batch(f"p{p}", i))
            assert len(log.segment_base_offsets()) > 2
            log.delete_before(log.segment_base_offsets()[1])
        with PartitionLog.open(tmp_path / "other", CFG, handles=handles) as other:
            other.append(_batch("other", 0))
            other.flush()
        assert all(log._segments[-1].is_open for log in logs)
        assert handles.open_count >= 6
        for log in logs:
            log.flush()
        assert handles.open_count == 1
        for p, log in enumerate(logs):
            assert _values(log, log.log_start_offset)[-1] == f"p{p}-11".encode()
    finally:
        for log in logs:
            log.close()


def test_reads_racing_evictions_never_see_a_closed_file(tmp_path):
    """Goal: four threads reading 12 logs of many segments through a cache
    of 2 files (every read evicts another log's file) always get exactly the
    records written, never an error from a descriptor closed under them."""
    handles = SegmentHandles(2)
    logs = []
    for p in range(12):
        log = PartitionLog.open(tmp_path / f"t-{p}", CFG, handles=handles)
        for i in range(20):
            log.append(_batch(f"p{p}", i))
        log.flush()
        logs.append(log)
    errors: list[BaseException] = []

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(300):
                p = rng.randrange(12)
                offset = rng.randrange(20)
                got = _values(logs[p], offset)
                assert got == [f"p{p}-{i}".encode() for i in range(offset, 20)], (p, offset, got)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for log in logs:
        log.close()
    assert not errors, errors[0]
    assert handles.evictions > 100


@pytest.mark.parametrize("torn_seed", [None, 7])
def test_a_crash_at_every_file_operation_keeps_a_durable_prefix_with_a_one_file_cache(torn_seed):
    """Goal: closing and reopening segment files behind a cache of one
    changes nothing about crash atomicity: every crash point of the crash
    scenario (appends, rolls, flushes, a truncation inside a batch,
    delete_before, retention, close) reopens to a durable prefix."""
    k = 1
    while not run_crash_scenario(k, torn_seed, handles=lambda: SegmentHandles(1)):
        k += 1
        assert k < 3000


def test_node_config_replica_table_sets_the_bound(tmp_path):
    """Goal: `[replica] segment_handles_open_max` in node.toml reaches the
    ReplicaConfig a broker's ReplicaManager builds its cache from."""
    from rafka.broker.node.config import ConfigError, parse_config

    doc = {"node_id": 1, "data_dir": "d", "voters": ["1@127.0.0.1:1"], "listeners": {"peer": "127.0.0.1:20"}}
    cfg = parse_config(dict(doc, replica={"segment_handles_open_max": 64}), tmp_path)
    assert cfg.replica.segment_handles_open_max == 64
    assert parse_config(dict(doc), tmp_path).replica.segment_handles_open_max == 512
    with pytest.raises(ConfigError):
        parse_config(dict(doc, replica={"segment_handles_open_max": 0}), tmp_path)
