"""Goal: a partition directory knows which topic incarnation it belongs to
(Kafka's partition.metadata, KIP-516): a broker that finds an old
incarnation's directory (the topic was deleted and re-created under the same
name while it was down) starts the partition empty instead of serving the
old records; a directory without the file is adopted; a deleted topic's HW
leaves the checkpoint at once, so a re-created one never starts from it."""

from __future__ import annotations

import pytest

from rafka.broker.metadata import records as r
from rafka.broker.replica.hw_checkpoint import read_checkpoint
from rafka.broker.replica.partition_identity import (
    IdentityError, format_identity, parse_identity, read_identity, write_identity)
from rafka.log.partition_log import PartitionLog
from tests.unit.test_replica_manager import DEADLINE_S, Meta, batch, cluster, started, wait_until  # noqa: F401


def old_log(part_dir, records: int) -> None:
    log = PartitionLog.open(part_dir)
    for _ in range(records):
        log.append(batch(1))
    log.flush()
    log.close()


def test_file_format_round_trips_and_refuses_damage(tmp_path):
    assert parse_identity(format_identity("AbC-1")) == "AbC-1"
    assert format_identity("x") == b"version: 0\ntopic_id: x\n"
    for bad in (b"", b"version: 1\ntopic_id: x\n", b"version: 0\n", b"\xff\xfe"):
        with pytest.raises(IdentityError):
            parse_identity(bad)
    assert read_identity(tmp_path) is None
    write_identity(tmp_path, "T9")
    assert read_identity(tmp_path) == "T9"


async def test_an_old_incarnations_dir_is_set_aside_and_the_partition_starts_empty(started, tmp_path):
    part = tmp_path / "n1" / "t-0"
    old_log(part, 3)
    write_identity(part, "T0")  # the deleted topic of the same name
    meta = Meta()
    cluster(meta)  # topic "t" is T1 now
    rm = await started(meta)
    assert rm.partition("t", 0).log.log_end_offset == 0
    assert read_identity(part) == "T1"
    await wait_until(lambda: not any(p.name.endswith("-delete") for p in (tmp_path / "n1").iterdir()),
                     "the old incarnation's dir removed")
    await rm.append("t", 0, batch(2), acks=-1, timeout_s=DEADLINE_S)
    assert rm.partition("t", 0).log.log_end_offset == 2


async def test_a_dir_without_the_file_is_adopted_with_its_records(started, tmp_path):
    part = tmp_path / "n1" / "t-0"
    old_log(part, 3)
    meta = Meta()
    cluster(meta)
    rm = await started(meta)
    assert rm.partition("t", 0).log.log_end_offset == 3
    assert read_identity(part) == "T1"


async def test_a_deleted_topic_leaves_the_hw_checkpoint_at_once(started, tmp_path):
    meta = Meta()
    cluster(meta)
    rm = await started(meta, hw_checkpoint_interval_ms=3_600_000)
    await rm.append("t", 0, batch(2), acks=-1, timeout_s=DEADLINE_S)
    rm.hw_checkpoints.write(rm._hw_by_dir())
    assert read_checkpoint(tmp_path / "n1") == {("t", 0): 2}
    meta.apply(r.RemoveTopicRecord("T1"))
    await wait_until(lambda: read_checkpoint(tmp_path / "n1") == {}, "the checkpoint rewritten without t-0")
