"""`rafka dump-log` on the Raft metadata log: a real log written through
raft's DiskStorage, with the controller harness's metadata batches stored
the way the node stores them, decodes into named records, config and no-op
entries; entries that are not metadata, and corrupt ones, get a
decode_error instead of failing the command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from rafka.broker.controller.harness import LocalController
from rafka.broker.metadata.dump import decode_entry
from rafka.raft.disk_storage import LOG_DIR_NAME, DiskStorage
from rafka.raft.types import ConfigState, Entry, EntryKind

BAD_METADATA = b"\x91\x93\x63\x00\x01"  # an array holding a record of unknown type 99


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "rafka.broker.cli", "dump-log", *map(str, args)],
        capture_output=True, text=True, timeout=60,
    )


def json_lines(proc):
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture(scope="module")
def metadata_dir(tmp_path_factory):
    """A node's metadata/ directory: term 1 holds a no-op, a config entry and
    the controller's batches; term 2 a no-op, an opaque (non-metadata) entry and a corrupt one."""
    ctl = LocalController()
    ctl.add_brokers([1, 2, 3])
    assert ctl.create_topic("orders", 2, 3).error_code == 0
    path = tmp_path_factory.mktemp("node") / "metadata"
    storage = DiskStorage.open(path, ConfigState(frozenset({1}), frozenset()))
    config = ConfigState(frozenset({1, 2}), frozenset({3}))
    entries = [Entry(1, 1, EntryKind.NOOP, b""), Entry(1, 2, EntryKind.CONFIG, config.encode())]
    entries += [Entry(1, 3 + i, EntryKind.NORMAL, data) for i, data in enumerate(ctl.entries)]
    n = len(entries)
    entries += [Entry(2, n + 1, EntryKind.NOOP, b""),
                Entry(2, n + 2, EntryKind.NORMAL, b"\x00" + b"x" * 10),
                Entry(2, n + 3, EntryKind.NORMAL, BAD_METADATA)]
    storage.append(entries)
    storage.sync()
    storage.close()
    return path, entries


def all_records(items):
    return [r for item in items for r in item["records"]]


def test_json_decodes_every_entry_kind(metadata_dir):
    """Goal: --records --json names every entry's kind and decodes metadata
    batches into typed records with their fields, and config entries."""
    path, entries = metadata_dir
    items = json_lines(run(path / LOG_DIR_NAME, "--records", "--json"))
    assert [i["term"] for i in items] == [1, 2]  # one batch per same-term run
    recs = all_records(items)
    assert [r["offset"] for r in recs] == [e.index for e in entries]
    kinds = [r["entry_kind"] for r in recs]
    assert kinds[:2] == ["noop", "config"] and kinds[-3:] == ["noop", "normal", "metadata"]
    assert recs[1]["config"] == {"voters": [1, 2], "learners": [3]}
    assert "not a metadata record batch" in recs[-2]["decode_error"]
    decoded = [d for r in recs if "records" in r for d in r["records"]]
    topic = next(d for d in decoded if d["type"] == "TopicRecord")
    assert topic["name"] == "orders" and topic["version"] == 0
    parts = [d for d in decoded if d["type"] == "PartitionRecord"]
    assert sorted(p["partition"] for p in parts) == [0, 1]
    assert all(p["topic_id"] == topic["topic_id"] and len(p["replicas"]) == 3 for p in parts)
    assert {d["type"] for d in decoded} >= {"RegisterBrokerRecord", "UnfenceBrokerRecord"}
    assert all("decode_error" not in r for r in recs[:-2])


def test_undecodable_entry_keeps_base64_and_error(metadata_dir):
    """Goal: a record that does not decode falls back to its base64 value with
    a decode_error note, and the command still succeeds."""
    path, _ = metadata_dir
    bad = all_records(json_lines(run(path / LOG_DIR_NAME, "--records", "--json")))[-1]
    assert "unknown metadata record type id 99" in bad["decode_error"]
    assert bad["value"] == {"base64": "kZNjAAE="} and "records" not in bad


def test_node_metadata_dir_and_segment_file_are_detected(metadata_dir):
    """Goal: a node's metadata/ directory and a segment file inside the log
    are recognised as the metadata log without --metadata."""
    path, entries = metadata_dir
    seg = next((path / LOG_DIR_NAME).glob("*.log"))
    for target in (path, seg):
        recs = all_records(json_lines(run(target, "--records", "--json")))
        assert [r["entry_kind"] for r in recs][:2] == ["noop", "config"]
        assert len(recs) == len(entries)


def test_metadata_flag_forces_decoding(metadata_dir, tmp_path):
    """Goal: --metadata decodes a copy of the log under another name, which
    without it prints plain key/value records."""
    path, _ = metadata_dir
    copy = tmp_path / "copied"
    shutil.copytree(path / LOG_DIR_NAME, copy)
    plain = all_records(json_lines(run(copy, "--records", "--json")))
    assert "entry_kind" not in plain[0]
    forced = all_records(json_lines(run(copy, "--records", "--json", "--metadata")))
    assert forced[1]["config"] == {"voters": [1, 2], "learners": [3]}


def test_text_form_is_compact_and_readable(metadata_dir):
    """Goal: without --json each record is one readable line: kind and typed
    records with fields; only the undecodable one shows base64."""
    path, _ = metadata_dir
    proc = run(path / LOG_DIR_NAME, "--records")
    assert proc.returncode == 0, proc.stderr
    lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.startswith("  ")]
    assert lines[0] == "offset=1 noop"
    assert lines[1] == "offset=2 config voters=[1,2] learners=[3]"
    assert any("TopicRecord(name=orders topic_id=" in ln for ln in lines)
    assert any("PartitionRecord(" in ln and "partition=1 replicas=[" in ln for ln in lines)
    assert [ln for ln in lines if "base64:" in ln] == [lines[-1]]
    assert "decode_error=" in lines[-1]


@pytest.mark.parametrize("key,value,error", [
    (None, b"", "not one byte"),
    (b"\x07", b"", "unknown entry kind byte 0x07"),
    (b"\x01", b"\xc1", "bad config entry"),
    (b"\x00", b"\xc1junk", "not a metadata record batch"),
    (b"\x00", b"\x92\x01", "bad msgpack"),
    (b"\x02", b"x", "no-op entry carries 1 bytes"),
])
def test_decode_entry_never_raises(key, value, error):
    """Goal: every malformed entry becomes a decode_error, never an exception."""
    assert error in decode_entry(key, value)["decode_error"]
