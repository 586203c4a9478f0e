"""lazyfs (tests/jepsen/fuse): the drop rules on a real mount.

Each test mounts lazyfs over a temp dir (its own process), writes, fsyncs
and renames through the mount with plain os calls, drops, and checks what
survived: file data only up to its last fsync, a new file / rename /
removal only once its directory was fsynced (tests/sim/crashfs.py's model).
Needs root, /dev/fuse, fusermount3 and pyfuse3: without them these fail
(with the reason), they never skip.
"""

from __future__ import annotations

import os
import random

import pytest

from tests.jepsen.fuse.control import LazyFs, unavailable_reason
from tests.jepsen.fuse.pagecache import PAGE, FileCache


@pytest.fixture
def mnt(tmp_path):
    reason = unavailable_reason()
    assert reason is None, reason
    fs = LazyFs(tmp_path / "backing", tmp_path / "mnt", tmp_path / "lazyfs.log", passthrough=("logs",))
    fs.start()
    try:
        yield fs
    finally:
        fs.stop()
    assert not os.path.ismount(tmp_path / "mnt")
    assert fs.proc.poll() is not None


def _write(path, data: bytes, *, fsync: bool, mode=os.O_WRONLY | os.O_CREAT) -> None:
    fd = os.open(path, mode, 0o644)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def test_file_data_survives_only_up_to_its_last_fsync(mnt):
    m = mnt.mount
    _write(m / "a", b"durable", fsync=True)
    _fsync_dir(m)
    _write(m / "a", b"lost", fsync=False, mode=os.O_WRONLY | os.O_APPEND)
    assert _read(m / "a") == b"durablelost"
    out = mnt.drop()
    assert out["bytes_dropped"] > 0
    assert _read(m / "a") == b"durable"
    assert (mnt.backing / "a").read_bytes() == b"durable"


def test_new_file_needs_its_directory_fsynced(mnt):
    m = mnt.mount
    _write(m / "kept", b"k", fsync=True)
    _fsync_dir(m)
    _write(m / "gone", b"g", fsync=True)  # data durable, the entry not
    mnt.drop()
    assert sorted(os.listdir(m)) == ["kept"]
    assert not (mnt.backing / "gone").exists()


def test_new_directory_and_its_files_vanish_without_the_parent_fsync(mnt):
    m = mnt.mount
    os.mkdir(m / "d")
    _write(m / "d" / "f", b"x", fsync=True)
    _fsync_dir(m / "d")
    mnt.drop()
    assert os.listdir(m) == []
    os.mkdir(m / "e")
    _write(m / "e" / "f", b"y", fsync=True)
    _fsync_dir(m / "e")
    _fsync_dir(m)
    mnt.drop()
    assert _read(m / "e" / "f") == b"y"


def test_rename_over_a_file_is_undone_until_the_directory_fsync(mnt):
    m = mnt.mount
    _write(m / "final", b"old", fsync=True)
    _fsync_dir(m)
    _write(m / "final.tmp", b"new", fsync=True)
    os.replace(m / "final.tmp", m / "final")
    assert _read(m / "final") == b"new"
    mnt.drop()
    assert sorted(os.listdir(m)) == ["final"]
    assert _read(m / "final") == b"old"
    _write(m / "final.tmp", b"new", fsync=True)
    os.replace(m / "final.tmp", m / "final")
    _fsync_dir(m)
    mnt.drop()
    assert sorted(os.listdir(m)) == ["final"]
    assert _read(m / "final") == b"new"


def test_unlink_comes_back_with_its_durable_content(mnt):
    m = mnt.mount
    _write(m / "f", b"durable", fsync=True)
    _fsync_dir(m)
    _write(m / "f", b"!", fsync=False, mode=os.O_WRONLY | os.O_APPEND)
    os.unlink(m / "f")
    mnt.drop()
    assert _read(m / "f") == b"durable"
    os.unlink(m / "f")
    _fsync_dir(m)
    mnt.drop()
    assert os.listdir(m) == []
    assert os.listdir(str(mnt.backing) + ".trash") == []


def test_truncate_is_lost_without_fsync(mnt):
    m = mnt.mount
    _write(m / "f", b"x" * 10000, fsync=True)
    _fsync_dir(m)
    os.truncate(m / "f", 100)
    assert os.stat(m / "f").st_size == 100
    mnt.drop()
    assert _read(m / "f") == b"x" * 10000
    fd = os.open(m / "f", os.O_RDWR)
    os.ftruncate(fd, 100)
    os.ftruncate(fd, 5000)  # the cut-off bytes come back as zeros
    os.fsync(fd)
    os.close(fd)
    mnt.drop()
    assert _read(m / "f") == b"x" * 100 + bytes(4900)


def test_passthrough_directory_is_never_dropped(mnt):
    m = mnt.mount
    os.mkdir(m / "logs")
    with open(m / "logs" / "node.jsonl", "a") as f:
        f.write("line\n")
    mnt.drop()
    assert _read(m / "logs" / "node.jsonl") == b"line\n"
    assert (mnt.backing / "logs" / "node.jsonl").read_bytes() == b"line\n"


def test_page_cache_matches_a_plain_file_and_drops_to_the_last_flush(tmp_path):
    """The pure page cache against a bytes model: random writes, truncations,
    reads and flushes; a drop returns to the last flushed content."""
    rng = random.Random(7)
    path = tmp_path / "f"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDWR)
    try:
        cache, model, durable = FileCache(0), bytearray(), b""
        for _ in range(400):
            op = rng.random()
            if op < 0.45:
                off = rng.randrange(0, len(model) + 2 * PAGE)
                data = rng.randbytes(rng.randrange(1, 3 * PAGE))
                cache.write(fd, off, data)
                if off > len(model):
                    model += bytes(off - len(model))
                model[off: off + len(data)] = data
            elif op < 0.6:
                size = rng.randrange(0, len(model) + PAGE)
                cache.truncate(size)
                model = model[:size] + bytes(max(0, size - len(model)))
            elif op < 0.75:
                cache.flush(fd)
                durable = bytes(model)
                assert path.read_bytes() == durable
            elif op < 0.8:
                cache.drop()
                model = bytearray(durable)
            off = rng.randrange(0, len(model) + 10)
            n = rng.randrange(0, 2 * PAGE)
            assert cache.read(fd, off, n) == bytes(model[off: off + n])
            assert cache.size == len(model)
    finally:
        os.close(fd)


def test_without_fuse_the_nemesis_refuses_in_one_line(monkeypatch, capsys, tmp_path):
    """Goal: no root (or no /dev/fuse, fusermount3, pyfuse3): scripts/jepsen.py
    with lose-unfsynced (alone or in `all`) exits 2 with one clear line and
    starts nothing; never a silent pass."""
    import importlib.util

    from tests.jepsen.fuse import control
    from tests.jepsen.test_runs_common import SCRIPT

    monkeypatch.setattr(control.os, "geteuid", lambda: 1000)
    assert control.unavailable_reason() == "lazyfs needs root (it mounts a FUSE file system)"
    spec = importlib.util.spec_from_file_location("jepsen_script_under_test", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for nemesis in ("lose-unfsynced", "all"):
        out = tmp_path / nemesis
        assert script.main(["--workload", "queue", "--nemesis", nemesis, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == ["error: nemesis lose-unfsynced refused: lazyfs needs root "
                       "(it mounts a FUSE file system)"]
        assert not out.exists()


def test_torn_drop_keeps_each_page_and_directory_old_or_new(mnt):
    """Goal: a torn drop (`drop torn SEED`) leaves every page of a file
    either as fsynced or as last written, its length one of the two, and
    each directory's entries either all as fsynced or all as current; the
    same seed, the same outcome."""
    m = mnt.mount
    for d in ("a", "b"):
        os.mkdir(m / d)
    _fsync_dir(m)
    old, new = b"o" * (3 * PAGE), b"n" * (5 * PAGE)
    outcomes = set()
    for seed in range(8):
        _write(m / "f", old, fsync=True, mode=os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        _fsync_dir(m)
        _write(m / "f", new, fsync=False)
        for d in ("a", "b"):
            _write(m / d / f"x{seed}", b"x", fsync=True)
        mnt.drop(torn_seed=seed)
        data = _read(m / "f")
        assert len(data) in (len(old), len(new))
        for i in range(0, len(data), PAGE):  # past the old length the old page is zeros
            assert data[i: i + PAGE] in (old[i: i + PAGE].ljust(PAGE, b"\0"), new[i: i + PAGE])
        kept = tuple((m / d / f"x{seed}").exists() for d in ("a", "b"))
        outcomes.add((len(data), data.count(b"n") // PAGE, kept))
        for d in ("a", "b"):  # the next round starts from a known state
            if (m / d / f"x{seed}").exists():
                os.unlink(m / d / f"x{seed}")
            _fsync_dir(m / d)
    assert len(outcomes) > 1, "a torn drop must not always lose the same"


def test_torn_page_cache_never_loses_fsynced_pages(tmp_path):
    rng = random.Random(11)
    path = tmp_path / "f"
    for round_ in range(30):
        durable = rng.randbytes(rng.randrange(0, 4 * PAGE))
        path.write_bytes(durable)
        fd = os.open(path, os.O_RDWR)
        try:
            cache, model = FileCache(len(durable)), bytearray(durable)
            for _ in range(rng.randrange(1, 6)):
                off = rng.randrange(0, len(model) + PAGE)
                data = rng.randbytes(rng.randrange(1, 2 * PAGE))
                cache.write(fd, off, data)
                model += bytes(max(0, off - len(model)))
                model[off: off + len(data)] = data
            cache.drop_torn(fd, rng)
            got = path.read_bytes()
            assert len(got) in (len(durable), len(model))
            assert cache.size == len(got) and not cache.dirty
            for i in range(0, len(got), PAGE):
                page = got[i: i + PAGE]
                old = durable[i: i + PAGE].ljust(len(page), b"\0")[: len(page)]
                new = bytes(model[i: i + PAGE]).ljust(len(page), b"\0")[: len(page)]
                assert page in (old, new), round_
        finally:
            os.close(fd)


def test_lazyfs_unmounts_itself_when_the_harness_dies(tmp_path):
    """Goal: a harness killed before its cleanup (kafka seed 206 was ended
    by a timeout) leaves no lazyfs process or mount behind."""
    import subprocess
    import sys
    import time

    from tests.jepsen.fuse.control import REPO_ROOT

    assert unavailable_reason() is None, unavailable_reason()
    mount = tmp_path / "mnt"
    code = ("import sys; from pathlib import Path; from tests.jepsen.fuse.control import LazyFs; "
            "t = Path(sys.argv[1]); fs = LazyFs(t / 'backing', t / 'mnt', t / 'lazyfs.log'); "
            "fs.start(); print(fs.proc.pid, flush=True)")  # exits without fs.stop()
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=60, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 20
    while os.path.ismount(mount) and time.monotonic() < deadline:
        time.sleep(0.1)  # wait-ok: polling a condition under a deadline
    try:
        assert not os.path.ismount(mount)
    finally:
        if os.path.ismount(mount):
            subprocess.run(["fusermount3", "-u", "-z", str(mount)], timeout=10)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        state = open(f"/proc/{pid}/stat").read().split()[2] if os.path.exists(f"/proc/{pid}") else "gone"
        if state in ("Z", "gone"):
            break
        time.sleep(0.1)  # wait-ok: polling a condition under a deadline
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
