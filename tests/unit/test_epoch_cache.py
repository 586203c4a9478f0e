"""Leader-epoch cache: assignment, end offsets, truncation, checkpoint file."""

from __future__ import annotations

import os

from rafka.log.epoch_cache import CHECKPOINT_NAME, LeaderEpochCache, format_checkpoint, parse_checkpoint


def make(tmp_path, end=100):
    return LeaderEpochCache(str(tmp_path), lambda: end)


def test_end_offset_for_follows_kafka(tmp_path):
    """Goal: end_offset_for answers like Kafka's OffsetsForLeaderEpoch: the next epoch's start,
    the log end for the latest epoch, (-1, -1) for unknown newer epochs."""
    cache = make(tmp_path, end=100)
    cache.assign(2, 10)
    cache.assign(4, 40)
    cache.assign(5, 70)
    assert cache.end_offset_for(2) == (2, 40)
    assert cache.end_offset_for(3) == (2, 40)  # never a leader in 3: answer for 2
    assert cache.end_offset_for(5) == (5, 100)
    assert cache.end_offset_for(1) == (1, 10)  # older than everything known
    assert cache.end_offset_for(6) == (-1, -1)
    assert cache.latest_epoch == 5


def test_assign_is_idempotent_and_conflicts_are_removed(tmp_path):
    """Goal: re-assigning the latest epoch changes nothing; an assignment that contradicts newer
    entries removes them so epochs and offsets stay increasing."""
    cache = make(tmp_path)
    cache.assign(1, 0)
    cache.assign(1, 5)
    assert cache.entries == [(1, 0)]
    cache.assign(3, 10)
    cache.assign(2, 8)  # older epoch than the latest: entry (3, 10) conflicts
    assert cache.entries == [(1, 0), (2, 8)]


def test_truncation_from_end_and_start(tmp_path):
    """Goal: truncating from the end drops epochs starting at or after the cut; from the start
    drops wholly older epochs and moves the first start up."""
    cache = make(tmp_path)
    for epoch, offset in [(1, 0), (2, 10), (3, 20)]:
        cache.assign(epoch, offset)
    cache.truncate_from_end(20)
    assert cache.entries == [(1, 0), (2, 10)]
    cache.truncate_from_start(15)
    assert cache.entries == [(2, 15)]


def test_checkpoint_survives_restart_and_damage_is_detected(tmp_path):
    """Goal: every change is persisted in Kafka's text format; a damaged file is not trusted."""
    cache = make(tmp_path)
    cache.assign(7, 3)
    cache.assign(9, 12)
    again = make(tmp_path)
    assert again.loaded_from_file and again.entries == [(7, 3), (9, 12)]
    text = open(os.path.join(tmp_path, CHECKPOINT_NAME)).read()
    assert text == "0\n2\n7 3\n9 12\n"
    assert parse_checkpoint(format_checkpoint([(1, 2)]).decode()) == [(1, 2)]
    with open(os.path.join(tmp_path, CHECKPOINT_NAME), "w") as f:
        f.write("0\n2\n7 3\n")  # count says 2, one line
    damaged = make(tmp_path)
    assert not damaged.loaded_from_file and damaged.entries == []
