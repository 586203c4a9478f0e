"""`rafka dump-log`: segment files written by hand (batches concatenated) are
decoded per DESIGN.md's JSON shape; torn and corrupt tails are reported as a
final error line; non-segments fail with a one-line error."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import crc32c
import pytest

from rafka.log.dump import dump_log, render_bytes
from rafka.log.errors import NotASegmentError
from rafka.log.records import Record, build_batch

TS = 1_700_000_000_000
SEG0 = "00000000000000000000.log"
SEG3 = "00000000000000000003.log"


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "rafka.broker.cli", "dump-log", *map(str, args)],
        capture_output=True, text=True, timeout=60,
    )


def json_lines(proc):
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture
def partition(tmp_path):
    """A partition directory with two segments: offsets 0-2 and 3-4."""
    d = tmp_path / "topic-0"
    d.mkdir()
    a = build_batch([Record(b"k0", b"hello"), Record(None, b"\xff\xfe")],
                    timestamp_ms=TS, partition_leader_epoch=1)
    b = build_batch([Record(b"k2", None)], base_offset=2, timestamp_ms=TS,
                    partition_leader_epoch=1, compression=1)
    c = build_batch([Record(b"k3", b"x"), Record(b"k4", b"y")], base_offset=3,
                    timestamp_ms=TS, partition_leader_epoch=2)
    (d / SEG0).write_bytes(a + b)
    (d / SEG3).write_bytes(c)
    (d / "00000000000000000000.index").write_bytes(b"\x00" * 8)  # not a segment: skipped
    return d, (a, b, c)


def test_directory_json_with_records(partition):
    """Goal: a directory dumps every segment in base-offset order, one object per
    batch with the contract's keys; UTF-8 as text, other bytes as base64."""
    d, (a, b, c) = partition
    items = json_lines(run(d, "--json", "--records"))
    assert [i["base_offset"] for i in items] == [0, 2, 3]
    assert [i["last_offset"] for i in items] == [1, 2, 4]
    assert [i["count"] for i in items] == [2, 1, 2]
    assert [i["size"] for i in items] == [len(a), len(b), len(c)]
    assert [i["partition_leader_epoch"] for i in items] == [1, 1, 2]
    assert all(i["crc_valid"] for i in items)
    assert items[0]["records"] == [
        {"offset": 0, "key": "k0", "value": "hello", "timestamp": TS, "headers": []},
        {"offset": 1, "key": None, "value": {"base64": "//4="}, "timestamp": TS, "headers": []},
    ]
    assert items[1]["records"][0]["value"] is None and items[1]["compression"] == "gzip"
    assert [i["segment"] for i in items] == [SEG0, SEG0, SEG3]


def test_json_without_records_has_no_records_key(partition):
    """Goal: records appear only with --records."""
    d, _ = partition
    items = json_lines(run(d / SEG3, "--json"))
    assert len(items) == 1 and "records" not in items[0]


def test_text_form(partition):
    """Goal: without --json, one readable line per batch (records indented)."""
    d, _ = partition
    proc = run(d / SEG0, "--records")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    batch_lines = [line for line in lines if not line.startswith(" ")]
    assert len(batch_lines) == 2
    assert "offsets=0..1" in batch_lines[0] and "crc_valid=true" in batch_lines[0]
    assert any('key="k0"' in line and 'value="hello"' in line for line in lines)


def test_torn_tail_and_corrupt_byte(tmp_path):
    """Goal: a torn tail ends with {"error", "position"} (exit 0, documented),
    and a flipped payload byte shows crc_valid false."""
    good = build_batch([Record(b"a", b"1")], timestamp_ms=TS)
    bad = bytearray(build_batch([Record(b"b", b"2")], base_offset=1, timestamp_ms=TS))
    bad[-1] ^= 0x40
    torn = build_batch([Record(b"c", b"3")], base_offset=2, timestamp_ms=TS)
    seg = tmp_path / SEG0
    seg.write_bytes(good + bad + torn[:-3])
    items = json_lines(run(seg, "--json"))
    assert [i.get("crc_valid") for i in items[:2]] == [True, False]
    assert set(items[-1]) >= {"error", "position"}
    assert items[-1]["position"] == len(good) + len(bad)
    assert "truncated" in items[-1]["error"]


@pytest.mark.parametrize("name, content", [
    ("notes.txt", build_batch([Record(b"a", b"1")], timestamp_ms=TS)),
    (SEG0, b"this is not a record batch, just some text that is long enough to parse"),
])
def test_not_a_segment(tmp_path, name, content):
    """Goal: a wrong name or non-batch content is a one-line error, non-zero exit."""
    path = tmp_path / name
    path.write_bytes(content)
    proc = run(path, "--json")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["error"] == "NOT_A_SEGMENT"
    assert proc.stdout == ""


# In-process tests of log/dump.py (no subprocess: fast).


def _dump(path, **kwargs):
    return list(dump_log(path, **kwargs))


def test_corrupt_length_mid_file_ends_walk(tmp_path):
    """Goal: an impossible length after a good batch ends the segment with an error."""
    good = build_batch([Record(b"a", b"1")], timestamp_ms=TS)
    bad = bytearray(build_batch([Record(b"b", b"2")], base_offset=1, timestamp_ms=TS))
    struct.pack_into(">i", bad, 8, 3)
    (tmp_path / SEG0).write_bytes(good + bad + good)
    items = _dump(tmp_path / SEG0)
    assert len(items) == 2 and items[0]["crc_valid"]
    assert items[1]["position"] == len(good) and "impossible batch length" in items[1]["error"]


def test_oversized_batch_reported(tmp_path):
    """Goal: a batch larger than batch_bytes_max is never read into memory."""
    data = build_batch([Record(b"a", b"1" * 1000)], timestamp_ms=TS)
    (tmp_path / SEG0).write_bytes(data)
    items = _dump(tmp_path / SEG0, batch_bytes_max=100)
    assert items == [{"segment": SEG0, "position": 0,
                      "error": f"batch of {len(data)} bytes exceeds 100"}]


def test_empty_segment_and_empty_directory(tmp_path):
    """Goal: an empty segment has no batches; a directory without segments is an error."""
    (tmp_path / SEG0).write_bytes(b"")
    assert _dump(tmp_path / SEG0) == []
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotASegmentError):
        _dump(empty)


def test_bad_segment_in_directory_is_reported_not_fatal(tmp_path):
    """Goal: inside a directory a garbage segment becomes an error line and the
    later segments are still dumped."""
    (tmp_path / SEG0).write_bytes(b"\x00" * 100)
    (tmp_path / SEG3).write_bytes(build_batch([Record(b"a", b"1")], base_offset=3, timestamp_ms=TS))
    items = _dump(tmp_path)
    assert items[0]["segment"] == SEG0 and "error" in items[0]
    assert items[1]["base_offset"] == 3


def test_unsupported_codec_records_error(tmp_path):
    """Goal: a snappy batch is listed; only its records report the codec."""
    buf = bytearray(build_batch([Record(b"a", b"1")], timestamp_ms=TS))
    struct.pack_into(">h", buf, 21, 2)
    struct.pack_into(">I", buf, 17, crc32c.crc32c(bytes(buf[21:])))
    (tmp_path / SEG0).write_bytes(bytes(buf))
    (item,) = _dump(tmp_path / SEG0, records=True)
    assert item["crc_valid"] and item["compression"] == "snappy"
    assert item["records"] == [] and "snappy" in item["records_error"]


def test_render_bytes():
    """Goal: UTF-8 prints as text, anything else as base64, None as null."""
    assert render_bytes(b"caf\xc3\xa9") == "café"
    assert render_bytes(b"\x81\xa1a") == {"base64": "gaFh"}
    assert render_bytes(None) is None
