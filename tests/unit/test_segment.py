"""Segment files, atomic checkpoint writes and LogConfig validation."""

from __future__ import annotations

import os

import pytest

from log.atomic import atomic_write
from log.config import LogConfig, LogConfigError
from log.records import Record, build_batch
from log.segment import Segment, parse_segment_name, segment_name


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
