"""High watermark checkpoint (broker/replica/hw_checkpoint.py): Kafka's
replication-offset-checkpoint format, crash-atomic rewrites (over the crash
file system), and a ReplicaManager that starts a partition's HW from it."""

from __future__ import annotations

import random

import pytest
import trio

from rafka.broker.replica.hw_checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    HighWatermarkCheckpoints,
    format_checkpoint,
    group_by_dir,
    initial_high_watermark,
    parse_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from rafka.broker.replica.manager import ReplicaManager
from rafka.broker.replica.settings import ReplicaConfig
from rafka.broker.replica.types import FetchPartition
from tests.sim.crashfs import CrashFs, SimulatedCrash
from tests.unit.test_replica_manager import DEADLINE_S, Meta, batch, cluster, wait_until


def test_format_is_kafkas_offset_checkpoint_text():
    """Goal: version line, count line, then sorted `topic partition offset` lines; parse inverts it."""
    entries = {("orders", 1): 7, ("a.b-c_d", 0): 0, ("orders", 0): 12}
    data = format_checkpoint(entries)
    assert data == b"0\n3\na.b-c_d 0 0\norders 0 12\norders 1 7\n"
    assert parse_checkpoint(data.decode()) == entries
    assert format_checkpoint({}) == b"0\n0\n"
    assert parse_checkpoint("0\n0\n") == {}


@pytest.mark.parametrize("text", [
    "", "1\n0\n", "x\n0\n", "0\n2\nt 0 1\n", "0\n1\nt 0\n", "0\n1\nt zero 1\n", "0\n1\nt 0 -1\n",
    "0\n1\nt -1 3\n", "0\n1\n 0 3\n", "0\n-1\n",
])
def test_damaged_checkpoint_is_refused(text):
    """Goal: any damage (version, count, line shape, negatives) raises CheckpointError, never a guess."""
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


def test_topic_name_with_a_space_cannot_be_written():
    with pytest.raises(CheckpointError):
        format_checkpoint({("a b", 0): 1})


def test_initial_hw_is_the_checkpoint_kept_within_the_log():
    """Goal: Kafka's rule: the checkpointed HW, capped to the log end, floored at the log start."""
    assert initial_high_watermark(None, 0, 10) == 0
    assert initial_high_watermark(None, 4, 10) == 4
    assert initial_high_watermark(7, 0, 10) == 7
    assert initial_high_watermark(15, 0, 10) == 10
    assert initial_high_watermark(2, 5, 10) == 5


def test_group_by_dir_gives_every_log_dir_a_file(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    out = group_by_dir([a, b], [(a / "t-0", "t", 0, 5), (a / "t-1", "t", 1, -1)])
    assert out == {a: {("t", 0): 5, ("t", 1): 0}, b: {}}


def _crash_fs_with_dir() -> CrashFs:
    fs = CrashFs()
    fs.mkdir("/d")
    fs.fsync_dir("/")
    return fs


def test_write_is_crash_atomic_at_every_instant():
    """Goal: a crash at any mutating call of a rewrite leaves the old or the new checkpoint, whole;
    once write returns, the new one survives a crash."""
    old, new = {("t", 0): 5, ("u", 3): 9}, {("t", 0): 8, ("u", 3): 9, ("v", 0): 1}
    fs = _crash_fs_with_dir()
    write_checkpoint("/d", old, fs)
    start = fs.ops
    write_checkpoint("/d", new, fs)
    ops = fs.ops - start
    assert ops >= 4  # create, write, fsync, rename, dir fsync
    seen = set()
    for n in range(1, ops + 2):  # crash on the n-th call; ops + 1: after the write
        for torn_seed in (None, 1, 2, 3):
            fs = _crash_fs_with_dir()
            write_checkpoint("/d", old, fs)
            fs.arm(n)
            try:
                write_checkpoint("/d", new, fs)
            except SimulatedCrash:
                pass
            fs.crash(random.Random(torn_seed), torn=torn_seed is not None)
            got = read_checkpoint("/d", fs)
            assert got in (old, new), (n, torn_seed, got)
            seen.add("new" if got == new else "old")
            if n == ops + 1:  # the write completed before the crash
                assert got == new
    assert seen == {"old", "new"}


def test_missing_file_reads_empty_and_damage_is_reported(tmp_path):
    assert read_checkpoint(tmp_path) == {}
    (tmp_path / CHECKPOINT_NAME).write_text("0\n5\nt 0 1\n")
    cps = HighWatermarkCheckpoints([tmp_path])
    errors = cps.load()
    assert len(errors) == 1 and errors[0][0] == tmp_path
    assert cps.checkpointed(tmp_path / "t-0", "t", 0) is None


def test_unchanged_entries_are_not_rewritten_and_a_loaded_hw_is_handed_out_once(tmp_path):
    write_checkpoint(tmp_path, {("t", 0): 3})
    cps = HighWatermarkCheckpoints([tmp_path])
    assert cps.load() == []
    assert cps.write({tmp_path: {("t", 0): 3}}) == 0
    assert cps.write({tmp_path: {("t", 0): 4}}) == 1
    assert read_checkpoint(tmp_path) == {("t", 0): 4}
    assert cps.checkpointed(tmp_path / "t-0", "t", 0) == 3
    assert cps.checkpointed(tmp_path / "t-0", "t", 0) is None  # a re-created topic starts from its log


async def _run_manager(meta, log_dir, body, **cfg):
    """Start a ReplicaManager on `log_dir`, run `body(rm)`, then stop it cleanly (cancel)."""
    rm = ReplicaManager(1, [log_dir], meta.sm, ReplicaConfig(**cfg))
    async with trio.open_nursery() as nursery:
        await nursery.start(rm.run)
        out = await body(rm)
        nursery.cancel_scope.cancel()
    return out


async def test_restarted_leader_starts_from_the_checkpointed_hw(tmp_path):
    """Goal: a leader whose ISR followers have not fetched since its restart serves the HW it had
    (clean shutdown writes the checkpoint); without the file it would serve 0 until they fetch."""
    meta = Meta()
    cluster(meta, rf_isr=((1, 2), (1, 2)))
    log_dir = tmp_path / "n1"

    async def produce(rm):
        await rm.append("t", 0, batch(3), acks=1, timeout_s=DEADLINE_S)
        await rm.append("t", 0, batch(2), acks=1, timeout_s=DEADLINE_S)
        await rm.fetch([FetchPartition("t", 0, 5, 1 << 20, durable_log_end_offset=5)], replica_id=2)
        await wait_until(lambda: rm.partition("t", 0).high_watermark == 5, "hw 5")
        # a sixth record the follower never got: above the HW
        await rm.append("t", 0, batch(1), acks=1, timeout_s=DEADLINE_S)

    # a long interval: only the clean shutdown can have written the file
    await _run_manager(meta, log_dir, produce, hw_checkpoint_interval_ms=3_600_000)
    assert read_checkpoint(log_dir) == {("t", 0): 5}

    async def hw_after_restart(rm):
        p = rm.partition("t", 0)
        [out] = await rm.fetch([FetchPartition("t", 0, 0, 1 << 20)])
        return p.leader is not None, p.log.log_end_offset, out.high_watermark

    assert await _run_manager(meta, log_dir, hw_after_restart) == (True, 6, 5)
    (log_dir / CHECKPOINT_NAME).unlink()
    assert await _run_manager(meta, log_dir, hw_after_restart) == (True, 6, 0)


async def test_periodic_checkpoint_follows_the_hw(tmp_path):
    """Goal: without any shutdown, the file catches up with the HW within the interval."""
    meta = Meta()
    cluster(meta)
    log_dir = tmp_path / "n1"

    async def produce(rm):
        await rm.append("t", 0, batch(4), acks=-1, timeout_s=DEADLINE_S)
        with trio.fail_after(DEADLINE_S):
            while read_checkpoint(log_dir) != {("t", 0): 4}:
                await trio.sleep(0.02)  # wait-ok: a poll bounded by fail_after

    await _run_manager(meta, log_dir, produce, hw_checkpoint_interval_ms=20)
