"""PartitionLog over the crash file layer (tests/sim/crashfs.py): a crash at
every file operation of append, roll, flush, truncate_to, delete_before,
retention and the checkpoint writes; reopen; exactly a durable prefix
survives, nothing acknowledged (flushed) is lost, nothing is invented, and
the leader-epoch cache describes the batches that are there.

The model: `batches` (base, epoch, values) in log order; `acked`, how many
of them a completed flush (or a truncation, durable when it returns)
promised. An operation in progress at the crash may leave the state before
it or after it (or, for a truncation, the old log cut anywhere at or after
the requested offset)."""

from __future__ import annotations

import random

import pytest

from rafka.log.config import LogConfig
from rafka.log.partition_log import PartitionLog
from rafka.log.records import Record, build_batch, decode_batch
from tests.sim.crashfs import CrashFs, SimulatedCrash

DIR = "/data/topic-0"
CFG = LogConfig(segment_bytes_max=400, index_interval_bytes=0, retention_ms=-1, retention_bytes=900,
                write_buffer_bytes_max=256)


def _batch(tag: int) -> bytes:
    return build_batch([Record(None, b"v%d-0" % tag), Record(None, b"v%d-1" % tag)], timestamp_ms=1000 + tag)


class Model:
    def __init__(self) -> None:
        self.batches: list[tuple[int, int, tuple]] = []  # (base, epoch, values)
        self.acked = 0
        self.start = 0

    def copy(self) -> "Model":
        m = Model()
        m.batches, m.acked, m.start = list(self.batches), self.acked, self.start
        return m

    @property
    def end(self) -> int:
        return self.batches[-1][0] + 2 if self.batches else self.start


def _ops():
    """The scenario: (name, argument) steps."""
    tag = 0
    steps = []
    for epoch, count, flush in ((1, 4, True), (2, 3, True), (3, 2, False)):
        for _ in range(count):
            steps.append(("append", (epoch, tag)))
            tag += 1
        if flush:
            steps.append(("flush", None))
    steps.append(("reopen", None))  # the recovery point is now the log end, past the segment cut next
    steps.append(("truncate_to", 11))  # inside the batch [10, 11] of epoch 2
    for _ in range(3):
        steps.append(("append", (4, tag)))
        tag += 1
    steps.append(("flush", None))
    steps.append(("delete_before", 3))
    steps.append(("enforce_retention", None))
    steps.append(("append", (5, tag)))
    steps.append(("close", None))
    return steps


def _apply(log: PartitionLog, model: Model, name: str, arg) -> None:
    if name == "append":
        epoch, tag = arg
        info = log.append(_batch(tag), leader_epoch=epoch)
        model.batches.append((info.base_offset, epoch, (b"v%d-0" % tag, b"v%d-1" % tag)))
    elif name == "flush":
        log.flush()
        model.acked = len(model.batches)
    elif name == "close":
        log.close()
        model.acked = len(model.batches)
    elif name == "truncate_to":
        log.truncate_to(arg)
        model.batches = [b for b in model.batches if b[0] + 1 < arg]
        model.acked = len(model.batches)
    elif name in ("delete_before", "enforce_retention"):
        if name == "delete_before":
            log.delete_before(arg)
        else:
            log.enforce_retention()
        model.start = log.log_start_offset
        kept = [b for b in model.batches if b[0] + 1 >= model.start]
        model.acked = max(0, model.acked - (len(model.batches) - len(kept)))
        model.batches = kept


def _read(log: PartitionLog) -> list[tuple[int, int, tuple]]:
    out = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        buf = log.read(offset, 1 << 20)
        pos = 0
        while pos < len(buf):
            header, records = decode_batch(buf, pos)
            out.append((header.base_offset, header.partition_leader_epoch, tuple(r.value for r in records)))
            pos += header.size
            offset = header.last_offset + 1
    return out


def _check(log: PartitionLog, before: Model, after: Model, step: str) -> None:
    got = _read(log)
    known = {b[0]: b for b in before.batches} | {b[0]: b for b in after.batches}
    for b in got:
        assert known.get(b[0]) == b, f"{step}: batch {b} was never written there"
    assert log.log_start_offset in range(before.start, after.start + 1), f"{step}: log start {log.log_start_offset}"
    for model in (before, after):
        promised = [b for b in model.batches[: model.acked] if b[0] + 1 >= log.log_start_offset]
        if all(b in got for b in promised):
            break
    else:
        raise AssertionError(f"{step}: acknowledged batches lost: have {got}, "
                             f"promised {before.batches[:before.acked]} or {after.batches[:after.acked]}")
    end = log.log_end_offset
    for epoch, start in log.leader_epochs.entries:
        assert start < end, f"{step}: epoch {epoch} starts at {start}, at or past the log end {end}"
    for base, epoch, _ in got:
        assert log.leader_epochs.epoch_for_offset(max(base, log.log_start_offset)) == epoch, (
            f"{step}: epoch cache {log.leader_epochs.entries} disagrees with batch {base} of epoch {epoch}")


def _run(crash_after: int, torn_seed: int | None, handles=None) -> bool:
    """Run the scenario with a crash at file operation `crash_after`; check
    the reopened log. Returns True when the scenario finished first.
    `handles()`: an open-file cache for every opening (log/segment_handles.py)."""
    fs = CrashFs()

    def open_log():
        return PartitionLog.open(DIR, CFG, fs=fs, now_ms=lambda: 0,
                                 handles=handles() if handles is not None else None)

    log = open_log()
    model = Model()
    fs.arm(crash_after)
    step = "open"
    before = after = model
    try:
        for name, arg in _ops():
            step = f"{name}({arg})"
            before = model.copy()
            after = model.copy()
            _apply_model_only(after, name, arg, log)
            if name == "reopen":
                log.close()
                model.acked = len(model.batches)
                log = open_log()
                continue
            _apply(log, model, name, arg)
            before = after = model
    except SimulatedCrash:
        fs.crash(random.Random(torn_seed), torn=torn_seed is not None)
        with open_log() as again:
            _check(again, before, after, f"crash at op {crash_after} in {step}")
        return False
    fs.disarm()
    fs.crash()
    with open_log() as again:
        _check(again, model, model, "after close")
        assert _read(again) == model.batches
    return True


def _apply_model_only(model: Model, name: str, arg, log: PartitionLog) -> None:
    """The model after `name` completes (without touching the log), for
    the operations whose outcome is known in advance."""
    if name == "append":
        epoch, tag = arg
        model.batches.append((model.end, epoch, (b"v%d-0" % tag, b"v%d-1" % tag)))
    elif name in ("flush", "close", "reopen"):
        model.acked = len(model.batches)
    elif name == "truncate_to":
        model.batches = [b for b in model.batches if b[0] + 1 < arg]
        model.acked = len(model.batches)
    elif name == "delete_before":
        model.start = max(model.start, arg)
        kept = [b for b in model.batches if b[0] + 1 >= model.start]
        model.acked = max(0, model.acked - (len(model.batches) - len(kept)))
        model.batches = kept
    elif name == "enforce_retention":
        # the outcome depends on segment sizes: allow any start up to the end
        model.start = model.end
        model.batches, model.acked = [], 0


@pytest.mark.parametrize("torn_seed", [None, 7, 8])
def test_a_crash_at_every_file_operation_keeps_exactly_a_durable_prefix(torn_seed):
    """Goal: for k = 1, 2, ... crash at the k-th file operation of the
    scenario (appends that roll segments, flushes with their epoch and
    recovery-point checkpoints, a truncation inside a batch, delete_before,
    retention, close) until the scenario completes; every reopen passes
    _check."""
    k = 1
    while not _run(k, torn_seed):
        k += 1
        assert k < 2000
    assert k > 30  # the scenario really spans many file operations


def test_the_epoch_checkpoint_is_not_ahead_of_the_data():
    """Goal: an epoch learned from an append is checkpointed only after the
    flush that makes its batch durable: a crash before the flush leaves no
    checkpoint entry naming it (the old code wrote it at append time)."""
    fs = CrashFs()
    log = PartitionLog.open(DIR, CFG, fs=fs, now_ms=lambda: 0)
    log.append(_batch(0), leader_epoch=1)
    log.flush()
    log.append(_batch(1), leader_epoch=2)
    assert fs.durable_bytes(DIR + "/leader-epoch-checkpoint") == b"0\n1\n1 0\n"
    log.flush()
    assert fs.durable_bytes(DIR + "/leader-epoch-checkpoint") == b"0\n2\n1 0\n2 2\n"


def test_recovery_and_truncation_agree_on_an_epoch_starting_at_the_log_end(tmp_path):
    """Goal: an epoch that starts exactly at the log end describes no batch:
    truncation drops it and so does recovery (the old recovery kept it)."""
    with PartitionLog.open(tmp_path / "p", CFG) as log:
        log.append(_batch(0), leader_epoch=1)
        log.leader_epochs.assign(2, log.log_end_offset)  # a new leader, nothing appended yet
        assert log.leader_epochs.entries == [(1, 0), (2, 2)]
    with PartitionLog.open(tmp_path / "p", CFG) as log:
        assert log.leader_epochs.entries == [(1, 0)]
        log.append(_batch(1), leader_epoch=3)
        log.truncate_to(2)
        assert log.leader_epochs.entries == [(1, 0)]


def test_a_new_partition_directory_is_fsynced_into_its_parent():
    """Goal: opening a log creates its directory durably: a crash right after
    open (nothing appended) still finds the directory and its files."""
    fs = CrashFs()
    PartitionLog.open(DIR, CFG, fs=fs, now_ms=lambda: 0)
    fs.crash()
    assert fs.isdir(DIR)
    assert "recovery-point-offset-checkpoint" in fs.listdir(DIR)
