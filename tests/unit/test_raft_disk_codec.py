"""DiskStorage's own record-batch encoder and in-place commit index: the
batches are byte-identical to log.records.build_batch (so dump-log and
recovery read them like any batch), and the commit index survives many
in-place updates and a reopen."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rafka.log.records import Record, build_batch, decode_batch
from rafka.raft.disk_storage import VARINT_CACHE_MAX, DiskStorage, encode_entries
from rafka.raft.types import ConfigState, Entry, EntryKind, HardState

BOOT = ConfigState(frozenset({1, 2, 3}))


def _reference(run: list[Entry]) -> bytes:
    records = [Record(key=bytes([int(e.kind)]), value=e.data) for e in run]
    return build_batch(records, base_offset=run[0].index, partition_leader_epoch=run[0].term, timestamp_ms=0)


@settings(max_examples=60)
@given(
    term=st.integers(0, 2**31 - 1),
    base=st.integers(1, 2**62),
    items=st.lists(st.tuples(st.sampled_from(list(EntryKind)), st.binary(max_size=300)), min_size=1, max_size=40),
)
def test_encode_entries_is_build_batch(term, base, items):
    """Goal: the fast encoder's bytes equal build_batch's for any run."""
    run = [Entry(term, base + k, kind, data) for k, (kind, data) in enumerate(items)]
    assert encode_entries(run) == _reference(run)


def test_encode_entries_beyond_the_varint_cache():
    """Goal: offset deltas and value lengths past the precomputed varints
    still encode identically and decode back to the same entries."""
    rng = random.Random(4)
    run = [Entry(7, 100 + k, EntryKind.NORMAL, b"v" * rng.choice([0, 1, 5000])) for k in range(VARINT_CACHE_MAX + 10)]
    blob = encode_entries(run)
    assert blob == _reference(run)
    header, records = decode_batch(blob, 0)
    assert header.record_count == len(run) and header.partition_leader_epoch == 7
    assert [(r.offset, r.value) for r in records] == [(e.index, e.data) for e in run]


def test_commit_index_updated_in_place_survives_reopen(tmp_path):
    """Goal: after many commit-only hard-state updates (rewritten in place)
    a reopen sees the last commit index, with term and vote intact."""
    s = DiskStorage.open(tmp_path, BOOT)
    s.append([Entry(1, i, EntryKind.NORMAL, b"x") for i in range(1, 301)])
    s.sync()
    for commit in (1, 2, 200, 255, 256, 299, 300):
        s.set_hard_state(HardState(1, 2, commit))
    s.close()
    s2 = DiskStorage.open(tmp_path, BOOT)
    assert s2.initial_state()[0] == HardState(1, 2, 300)
    s2.close()


@given(sizes=st.lists(st.integers(0, 200), max_size=12), max_bytes=st.one_of(st.none(), st.integers(0, 600)))
def test_fast_byte_limit_matches_limit_size(sizes, max_bytes):
    """Goal: the hot-path byte limit (RaftLog, DiskStorage.entries) keeps
    exactly the prefix raft.storage.limit_size keeps (at least one entry)."""
    from rafka.raft.raft_log import limit_entries_bytes
    from rafka.raft.storage import limit_size

    entries = [Entry(1, i + 1, EntryKind.NORMAL, b"x" * n) for i, n in enumerate(sizes)]
    assert limit_entries_bytes(entries, max_bytes) == limit_size(entries, max_bytes)
