"""Segment files, atomic checkpoint writes and LogConfig validation."""

from __future__ import annotations

import os

import pytest

from rafka.log.atomic import atomic_write
from rafka.log.config import LogConfig, LogConfigError
from rafka.log.records import Record, build_batch
from rafka.log.segment import Segment
from rafka.log.segment_names import parse_segment_name, segment_name


def test_segment_names_are_twenty_digit_base_offsets():
    """Goal: segment files are named by zero-padded base offset, and only those names parse."""
    assert segment_name(42) == "00000000000000000042"
    assert parse_segment_name("00000000000000000042.log") == 42
    assert parse_segment_name("00000000000000000042.index") is None
    assert parse_segment_name("42.log") is None
    assert parse_segment_name("0000000000000000004x.log") is None


def test_buffered_appends_are_visible_to_reads_and_reach_the_file(tmp_path):
    """Goal: batches held in the write buffer are served by reads and written by drain/close."""
    seg = Segment.create(str(tmp_path), 0, index_interval_bytes=4096)
    data = build_batch([Record(None, b"x" * 10)], timestamp_ms=1)
    seg.append_batch(b"", memoryview(data), 0, 1, 1, 64 * 1024)
    assert os.path.getsize(seg.path(".log")) == 0  # still buffered
    assert seg.read_batches(0, 10) == data
    seg.close()
    assert open(seg.path(".log"), "rb").read() == data


def test_atomic_write_replaces_whole_file(tmp_path):
    """Goal: atomic_write leaves exactly the new content and no temp file."""
    path = tmp_path / "state"
    atomic_write(path, b"one")
    atomic_write(path, b"two!")
    assert path.read_bytes() == b"two!"
    assert os.listdir(tmp_path) == ["state"]


@pytest.mark.parametrize(
    "kwargs",
    [dict(segment_bytes_max=10), dict(segment_bytes_max=2**31), dict(retention_ms=-2),
     dict(batch_bytes_max=3), dict(index_interval_bytes=-1), dict(segment_ms_max="1")],
)
def test_bad_config_is_refused(kwargs):
    """Goal: impossible settings raise LogConfigError instead of misbehaving later."""
    with pytest.raises(LogConfigError):
        LogConfig(**kwargs)


def test_topic_configs_map_kafka_names():
    """Goal: Kafka topic config names set the matching LogConfig fields; bad values are refused."""
    cfg = LogConfig().with_topic_configs({"retention.ms": "1000", "segment.bytes": "4096", "cleanup.policy": "x"})
    assert cfg.retention_ms == 1000 and cfg.segment_bytes_max == 4096
    with pytest.raises(LogConfigError):
        LogConfig().with_topic_configs({"retention.bytes": "lots"})


def _segment_with(tmp_path, name, timestamps, *, interval=100):
    """A segment holding one single-record batch per timestamp; returns it
    and each batch's (position, offset, bytes)."""
    d = tmp_path / name
    d.mkdir()
    seg = Segment.create(str(d), 0, index_interval_bytes=interval)
    batches = []
    for offset, ts in enumerate(timestamps):
        data = build_batch([Record(None, b"v" * 40)], base_offset=offset, timestamp_ms=ts)
        batches.append((seg.size, offset, data))
        seg.append_batch(b"", memoryview(data), offset, offset + 1, ts, 64 * 1024)
    return seg, batches


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 5, 7])
def test_truncate_recomputes_max_timestamp_and_index_state(tmp_path, cut):
    """Goal: after truncate_to, the segment's max timestamp (and its offset)
    are those of the batches that remain, not of the dropped ones, and
    appending after the cut builds exactly the indexes a segment that never
    held the dropped batches would have (the index byte counter is reset
    from what remains)."""
    timestamps = [1000, 5000, 2000, 3000, 4000, 9000, 8000, 9500]
    seg, batches = _segment_with(tmp_path, "cut", timestamps)
    position, offset, _ = batches[cut]
    seg.truncate_to(position, offset)
    kept = timestamps[:cut]
    if kept:
        assert seg.max_timestamp == max(kept)
        assert seg.offset_of_max_timestamp == kept.index(max(kept))
    else:
        assert seg.max_timestamp == -1 and seg.offset_of_max_timestamp == 0
    tail = [6000, 7000, 1500]
    for k, ts in enumerate(tail):
        o = cut + k
        data = build_batch([Record(None, b"v" * 40)], base_offset=o, timestamp_ms=ts)
        seg.append_batch(b"", memoryview(data), o, o + 1, ts, 64 * 1024)
    fresh, _ = _segment_with(tmp_path, "fresh", kept + tail)
    assert (seg.max_timestamp, seg.offset_of_max_timestamp) == (fresh.max_timestamp, fresh.offset_of_max_timestamp)
    assert seg.index.to_bytes() == fresh.index.to_bytes()
    assert seg.time_index.to_bytes() == fresh.time_index.to_bytes()
    seg.close()
    fresh.close()
