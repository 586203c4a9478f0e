"""Snapshots: log compaction and chunked snapshot install to a follower that
lags behind the leader's first index; a restarted node starts from its
snapshot."""

from __future__ import annotations

import pytest

from rafka.raft.errors import CompactedError, RaftError
from rafka.raft.messages import SnapshotRequest, SnapshotResponse
from rafka.raft.storage import MemoryStorage
from rafka.raft.types import ConfigState, Entry, Snapshot, SnapshotMeta
from tests.unit.test_raft_harness import Cluster


def _lagging_cluster(**cfg) -> tuple[Cluster, int, int]:
    c = Cluster(3, seed=21, **cfg)
    leader = c.elect()
    lagger = next(i for i in c.nodes if i != leader)
    c.crash(lagger)
    for i in range(40):
        c.propose(b"value-%02d" % i)
    c.tick(n=3)
    for i in c.nodes:
        if i != lagger:
            c.take_snapshot(i)
    return c, leader, lagger


def test_lagging_follower_gets_snapshot_in_chunks():
    """Goal: a follower whose next entry was compacted away receives the
    snapshot in several chunks, installs it, and then catches up with later
    entries, ending with the same state as the leader."""
    c, leader, lagger = _lagging_cluster(snapshot_chunk_bytes=64)
    assert c.storages[leader].first_index() > 2
    c.start(lagger)
    c.sent.clear()
    c.run_until(lambda: c.applied[lagger] == c.applied[leader], max_ticks=200)
    chunks = [m for m in c.sent if isinstance(m, SnapshotRequest) and m.dst == lagger]
    assert len(chunks) > 2
    assert chunks[-1].done and not chunks[0].done
    assert c.storages[lagger].snapshot().meta.index == c.storages[leader].snapshot().meta.index
    c.propose(b"after")
    c.tick(n=3)
    assert c.applied[lagger][-1] == b"after"
    assert c.applied[lagger] == c.applied[leader]


def test_lost_snapshot_chunk_is_resent():
    """Goal: snapshot transfer survives a dropped chunk (the leader resends
    after an election timeout of silence) and still completes."""
    c, leader, lagger = _lagging_cluster(snapshot_chunk_bytes=64)
    c.start(lagger)
    dropped = []

    def drop_second_chunk(msg):
        if isinstance(msg, SnapshotRequest) and msg.offset == 64 and not dropped:
            dropped.append(msg)
            return True
        return False

    for _ in range(200):
        if c.applied[lagger] == c.applied[leader]:
            break
        for i in c.nodes:
            c.nodes[i].tick()
        c.deliver(drop=drop_second_chunk)
    assert dropped
    assert c.applied[lagger] == c.applied[leader]


def test_follower_rejects_out_of_order_chunk_with_expected_offset():
    """Goal: a chunk at an unexpected offset is answered with the offset the
    follower needs, not appended."""
    c = Cluster(3, seed=2)
    leader = c.elect()
    follower = next(i for i in c.nodes if i != leader)
    core = c.nodes[follower]
    core.step(
        SnapshotRequest(src=leader, dst=follower, term=core.term, snapshot_index=50, snapshot_term=core.term,
                        voters=[1, 2, 3], learners=[], offset=0, chunk=b"abcd", done=False)
    )
    core.step(
        SnapshotRequest(src=leader, dst=follower, term=core.term, snapshot_index=50, snapshot_term=core.term,
                        voters=[1, 2, 3], learners=[], offset=10, chunk=b"zz", done=True)
    )
    replies = [m for m in core.msgs if isinstance(m, SnapshotResponse)]
    assert [r.next_offset for r in replies] == [4, 4]
    assert not any(r.done for r in replies)


def test_restart_from_snapshot_restores_state_and_config():
    """Goal: a node restarted on a compacted storage starts from its snapshot
    (commit, applied, configuration) and keeps working."""
    c, leader, lagger = _lagging_cluster()
    snap_index = c.storages[leader].snapshot().meta.index
    c.start(leader)
    core = c.nodes[leader]
    assert core.log.committed >= snap_index and core.log.applied == snap_index
    assert core.voters == frozenset({1, 2, 3})
    new_leader = c.elect()
    c.propose(b"more")
    c.tick(n=3)
    assert c.applied[new_leader][-1] == b"more"


def test_compact_rejects_unapplied_or_old_index():
    """Goal: compact() refuses an index beyond applied or not newer than the
    current snapshot, with typed errors."""
    c = Cluster(1)
    c.elect()
    c.propose(b"x")
    core = c.nodes[1]
    with pytest.raises(RaftError):
        core.compact(core.log.applied + 1, b"")
    c.take_snapshot(1)
    with pytest.raises(CompactedError):
        core.compact(core.log.applied, b"")


def test_memory_storage_copy_is_independent():
    """Goal: the simulator's durable copy does not see later writes."""
    s = MemoryStorage(ConfigState(frozenset({1})))
    s.append([Entry(1, 1), Entry(1, 2)])
    durable = s.copy()
    s.append([Entry(2, 2), Entry(2, 3)])
    s.apply_snapshot(Snapshot(SnapshotMeta(5, 2, ConfigState(frozenset({1}))), b"s"))
    assert durable.last_index() == 2 and durable.term(2) == 1
    assert durable.snapshot().is_empty
    assert s.first_index() == 6 and s.term(5) == 2


def test_restart_does_not_replay_entries_covered_by_snapshot():
    """Goal: when storage keeps entries below its snapshot (compaction lag),
    a restarted core starts applying after the snapshot index, not at the
    compaction point."""
    c = Cluster(1)
    c.elect()
    for i in range(10):
        c.propose(b"%d" % i)
    core, storage = c.nodes[1], c.storages[1]
    snap = core.compact(core.log.applied, b"")
    storage.create_snapshot(snap)
    storage.compact(snap.meta.index - 3)
    c.start(1)
    core2 = c.nodes[1]
    assert core2.log.applied == snap.meta.index
    rd = core2.ready() if core2.has_ready() else None
    assert rd is None or all(e.index > snap.meta.index for e in rd.committed_entries)
