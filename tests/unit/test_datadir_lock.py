"""One process per data directory (broker/datadir_lock.py): a second holder
is refused at once, naming the first one's pid, and `node start`, `format`
and `quorum up` refuse a held directory before writing anything in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rafka.broker.cli.main import main
from rafka.broker.cli.quorum_cmd import QuorumLayout
from rafka.broker.node.config import render_config
from rafka.broker.node.datadir_lock import LOCK_FILE_NAME, DataDirLock, DataDirLockedError, probe
from rafka.broker.node.meta_properties import format_dir, read

HOLDER = """
import sys
from rafka.broker.node.datadir_lock import DataDirLock
lock = DataDirLock.acquire(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
"""


def test_second_lock_is_refused_naming_the_holder_and_release_frees_it(tmp_path):
    """Goal: while one lock on a dir is held, another acquire fails at once
    with DATA_DIR_LOCKED naming the holder's pid; after release it succeeds."""
    first = DataDirLock.acquire(tmp_path)
    with pytest.raises(DataDirLockedError) as info:
        DataDirLock.acquire(tmp_path)
    assert info.value.code == "DATA_DIR_LOCKED"
    assert info.value.holder_pid == os.getpid()
    assert f"(pid {os.getpid()})" in info.value.message and str(tmp_path) in info.value.message
    assert probe(tmp_path) == (True, os.getpid())
    first.release()
    assert probe(tmp_path) == (False, None)
    with DataDirLock.acquire(tmp_path) as again:
        assert again.held
    assert not again.held


def test_probe_creates_nothing(tmp_path):
    """Goal: checking a directory that has no lock file leaves it untouched."""
    assert probe(tmp_path) == (False, None)
    assert not (tmp_path / LOCK_FILE_NAME).exists()


def test_lock_held_by_another_process_and_dropped_when_it_dies(tmp_path):
    """Goal: the lock works across processes (the holder's pid is reported)
    and a dead holder leaves no stale lock behind."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert probe(tmp_path) == (True, holder.pid)
        with pytest.raises(DataDirLockedError, match=f"pid {holder.pid}"):
            DataDirLock.acquire(tmp_path)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert probe(tmp_path) == (False, None)
    DataDirLock.acquire(tmp_path).release()


def _node_config(tmp_path):
    data = tmp_path / "data"
    format_dir(data, 1)
    cfg = tmp_path / "node.toml"
    # Ports are never bound: the node must refuse before listening.
    cfg.write_text(
        render_config(
            node_id=1, data_dir="data", peer="127.0.0.1:2",
            voters={1: "127.0.0.1:2"},
        )  # fmt: skip
    )
    return cfg, data


def test_node_start_on_a_locked_dir_refuses_at_once_and_writes_nothing(tmp_path):
    """Goal: a second node on a data dir in use exits non-zero with one
    DATA_DIR_LOCKED line naming the holder's pid, before creating its logs
    (it used to start and write the same metadata log)."""
    cfg, data = _node_config(tmp_path)
    with DataDirLock.acquire(data):
        before = sorted(p.name for p in data.iterdir())
        proc = subprocess.run(
            [sys.executable, "-m", "rafka.broker.cli", "node", "start", "--config", str(cfg)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert err.startswith("error: DATA_DIR_LOCKED:") and "\n" not in err, proc.stderr
    assert f"(pid {os.getpid()})" in err
    assert sorted(p.name for p in data.iterdir()) == before  # no logs/, no metadata/


def test_format_refuses_a_locked_dir(tmp_path, capsys):
    """Goal: `rafka format` on a directory held by a node exits non-zero with
    one DATA_DIR_LOCKED line and leaves meta.properties as it was."""
    ident, _ = format_dir(tmp_path, 1)
    with DataDirLock.acquire(tmp_path):
        # Even the "already formatted, same identity" case must not pass.
        assert main(["format", "--dir", str(tmp_path), "--node-id", "1"]) == 1
        assert main(["format", "--dir", str(tmp_path), "--node-id", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: DATA_DIR_LOCKED:") for line in err)
    assert read(tmp_path) == ident
    assert main(["format", "--dir", str(tmp_path), "--node-id", "1"]) == 0  # free again


def _snapshot(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_quorum_up_refuses_when_any_node_dir_is_locked_and_changes_nothing(tmp_path, capsys):
    """Goal: `quorum up` on a dir whose node-2 is held by a running node
    refuses with one DATA_DIR_LOCKED line before formatting or rewriting any
    node.toml (here with another base port, which would rewrite every one)."""
    root = tmp_path / "q"
    QuorumLayout(root.resolve(), 3, 21000).prepare()
    with DataDirLock.acquire(root / "node-2"):
        before = _snapshot(root)
        code = main([
            "quorum", "up", "--dir", str(root), "--base-port", "23000",
            "--ready-timeout-s", "2", "--restarts-max", "0", "--stop-timeout-s", "5",
        ])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: DATA_DIR_LOCKED:") and "\n" not in err
    assert "node-2" in err
    after = _snapshot(root)
    after.pop(Path(LOCK_FILE_NAME), None)  # the refused run's own root lock file
    assert after == before


def test_quorum_up_refuses_a_root_held_by_another_quorum_up(tmp_path, capsys):
    """Goal: a second `quorum up` on a root another one holds (DIR/.lock,
    held for its whole run, even while its nodes restart) is refused with
    one line and creates nothing."""
    root = tmp_path / "q"
    root.mkdir()
    with DataDirLock.acquire(root, what="rafka quorum up"):
        code = main([
            "quorum", "up", "--dir", str(root), "--base-port", "23000",
            "--ready-timeout-s", "2", "--restarts-max", "0", "--stop-timeout-s", "5",
        ])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: DATA_DIR_LOCKED:") and "quorum up" in err and "\n" not in err
    assert [p.name for p in root.iterdir()] == [LOCK_FILE_NAME]
