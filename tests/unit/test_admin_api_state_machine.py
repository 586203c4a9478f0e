"""The node's state machines: the metadata log carries only metadata record
batches (anything else fails loudly), and the Raft benchmark's opaque
entries live in their own state machine, chosen when a node starts."""

from __future__ import annotations

import hashlib

import msgpack
import pytest

from rafka.broker.metadata.records import CorruptRecordError, RegisterBrokerRecord, TopicRecord, encode_records
from rafka.broker.node.bench import BenchStateMachine
from rafka.broker.node.state_machine import NodeStateMachine
from rafka.raft.types import Entry, EntryKind


def entry(index: int, data: bytes, kind=EntryKind.NORMAL) -> Entry:
    return Entry(1, index, kind, data)


def test_metadata_entries_build_the_image_and_anything_else_raises():
    """Goal: record batches build the image; an entry that is not a record
    batch (such as a benchmark's opaque bytes) is never silently skipped."""
    sm = NodeStateMachine()
    sm.apply(entry(1, b"", EntryKind.NOOP))
    sm.apply(entry(2, encode_records([RegisterBrokerRecord(1, "i", 1, "h", 1, None), TopicRecord("t", "id")])))
    assert sm.image.offset == 2 and sm.image.topic("t") is not None
    assert sm.summary()["metadata_topics"] == "1"
    for junk in (b"garbage", b"\x00bench"):
        with pytest.raises(CorruptRecordError):
            sm.apply(entry(3, junk))


def test_metadata_snapshot_round_trips_and_reads_old_snapshots():
    """Goal: a snapshot restores the image, also one written when the node
    state machine still carried benchmark fields."""
    sm = NodeStateMachine()
    sm.apply(entry(1, encode_records([TopicRecord("t", "id")])))
    other = NodeStateMachine()
    other.restore(sm.snapshot())
    assert other.image.digest() == sm.image.digest()
    old = msgpack.packb({"metadata": sm.metadata.snapshot(), "bench_entries": 3, "bench_digest": bytes(32)},
                        use_bin_type=True)
    third = NodeStateMachine()
    third.restore(old)
    assert third.image.digest() == sm.image.digest()


def test_bench_state_machine_chains_every_normal_entry():
    """Goal: the benchmark state machine counts NORMAL entries and chains a
    sha256 over their raw data (whatever bytes they hold); other kinds only
    pass; a snapshot restores the chain."""
    sm = BenchStateMachine()
    sm.apply(entry(1, b"", EntryKind.NOOP))
    sm.apply(entry(2, b"\x93hello"))
    sm.apply(entry(3, b"x"))
    want = hashlib.sha256(hashlib.sha256(bytes(32) + b"\x93hello").digest() + b"x").hexdigest()
    assert sm.summary() == {"entries_applied": "2", "digest": want}
    other = BenchStateMachine()
    other.restore(sm.snapshot())
    assert other.summary() == sm.summary()
