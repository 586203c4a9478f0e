"""The node's state machine: metadata record batches and tagged benchmark
entries share the metadata log without ever being confused."""

from __future__ import annotations

import hashlib

import pytest

from rafka.broker.metadata.records import CorruptRecordError, RegisterBrokerRecord, TopicRecord, encode_records
from rafka.broker.node.state_machine import NodeStateMachine, bench_entry
from rafka.raft.types import Entry, EntryKind


def entry(index: int, data: bytes, kind=EntryKind.NORMAL) -> Entry:
    return Entry(1, index, kind, data)


def test_bench_and_metadata_entries_interleave():
    """Goal: benchmark entries feed only the digest chain (over their raw
    data) and advance the offset; record batches build the image."""
    sm = NodeStateMachine()
    sm.apply(entry(1, b"", EntryKind.NOOP))
    sm.apply(entry(2, bench_entry(b"\x93hello")))  # looks like msgpack once untagged
    sm.apply(entry(3, encode_records([RegisterBrokerRecord(1, "i", 1, "h", 1, None), TopicRecord("t", "id")])))
    sm.apply(entry(4, bench_entry(b"x")))
    want = hashlib.sha256(hashlib.sha256(bytes(32) + b"\x93hello").digest() + b"x").hexdigest()
    s = sm.summary()
    assert s["entries_applied"] == "2" and s["digest"] == want
    assert sm.image.offset == 4 and sm.image.topic("t") is not None
    assert s["metadata_topics"] == "1"


def test_unknown_entry_raises_and_snapshot_round_trips():
    """Goal: an entry that is neither kind fails loudly (no silent skip), and
    a snapshot restores both the image and the bench chain."""
    sm = NodeStateMachine()
    with pytest.raises(CorruptRecordError):
        sm.apply(entry(1, b"garbage"))
    sm.apply(entry(1, bench_entry(b"a")))
    sm.apply(entry(2, encode_records([TopicRecord("t", "id")])))
    other = NodeStateMachine()
    other.restore(sm.snapshot())
    assert other.summary()["digest"] == sm.summary()["digest"]
    assert other.image.digest() == sm.image.digest()
