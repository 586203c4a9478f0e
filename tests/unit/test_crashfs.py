"""CrashFs (tests/sim/crashfs.py): the crash model the disk simulator and
the crash tests rely on. Each test states one rule of the model."""

from __future__ import annotations

import os
import random

import pytest

from rafka.log.atomic import atomic_write
from rafka.log.fs import makedirs_durable
from tests.sim.crashfs import PAGE_BYTES, CrashFs, SimulatedCrash

W = os.O_WRONLY | os.O_CREAT


def _fs_with_dir() -> CrashFs:
    fs = CrashFs()
    makedirs_durable(fs, "/d")
    return fs


def test_file_data_survives_only_up_to_its_last_fsync():
    """Goal: writes after the last fsync are lost; those before are kept."""
    fs = _fs_with_dir()
    fd = fs.open("/d/f", W | os.O_APPEND)
    fs.write(fd, b"kept")
    fs.fsync(fd)
    fs.fsync_dir("/d")
    fs.write(fd, b"lost")
    fs.crash()
    assert fs.read_file("/d/f", 100) == b"kept"


def test_a_truncation_is_lost_without_fsync():
    """Goal: an ftruncate not followed by fsync comes back after a crash."""
    fs = _fs_with_dir()
    fd = fs.open("/d/f", W)
    fs.write(fd, b"0123456789")
    fs.fsync(fd)
    fs.fsync_dir("/d")
    fs.ftruncate(fd, 3)
    fs.crash()
    assert fs.read_file("/d/f", 100) == b"0123456789"


def test_a_new_file_survives_only_after_its_directory_fsync():
    """Goal: an fsynced file whose directory entry was never fsynced vanishes."""
    fs = _fs_with_dir()
    fd = fs.open("/d/new", W)
    fs.write(fd, b"x")
    fs.fsync(fd)
    fs.crash()
    assert not fs.exists("/d/new")


def test_a_rename_and_a_removal_are_undone_without_directory_fsync():
    """Goal: rename over a file and removal are directory changes: lost
    without the directory's fsync, kept with it (atomic_write does both)."""
    fs = _fs_with_dir()
    atomic_write("/d/cp", b"old", fs=fs)
    atomic_write("/d/cp", b"new", durable=False, fs=fs)
    fs.remove("/d/cp.tmp") if fs.exists("/d/cp.tmp") else None
    assert fs.read_file("/d/cp", 10) == b"new"
    fs.crash()
    assert fs.read_file("/d/cp", 10) == b"old"
    atomic_write("/d/cp", b"new", fs=fs)
    fs.crash()
    assert fs.read_file("/d/cp", 10) == b"new"
    fs.remove("/d/cp")
    fs.crash()
    assert fs.exists("/d/cp")


def test_a_new_directory_needs_its_parent_fsync():
    """Goal: mkdir without the parent's fsync is lost; makedirs_durable keeps it."""
    fs = CrashFs()
    makedirs_durable(fs, "/a/b/c")
    fs.mkdir("/plain")
    fs.crash()
    assert not fs.exists("/plain")
    assert fs.isdir("/a/b/c")


def test_an_armed_crash_stops_every_later_operation_until_the_crash():
    """Goal: arm(n) raises before the n-th mutating call takes effect, and the
    machine stays down (no later write can slip through) until crash()."""
    fs = _fs_with_dir()
    fd = fs.open("/d/f", W)
    fs.fsync_dir("/d")
    fs.arm(2)
    fs.write(fd, b"a")
    with pytest.raises(SimulatedCrash):
        fs.fsync(fd)
    with pytest.raises(SimulatedCrash):
        fs.write(fd, b"b")
    fs.crash()
    assert fs.read_file("/d/f", 10) == b""
    fd = fs.open("/d/f", W)  # up again, all descriptors gone
    fs.arm_after("ftruncate", 1)
    fs.write(fd, b"xyz")
    fs.ftruncate(fd, 1)
    with pytest.raises(SimulatedCrash):
        fs.fsync(fd)


def test_torn_crash_keeps_whole_pages_of_old_or_new_and_never_less_than_fsynced():
    """Goal: a torn crash mixes 4 KiB pages of the durable and current
    content (either length), and never touches what both agree on."""
    seen = set()
    for seed in range(40):
        fs = _fs_with_dir()
        fd = fs.open("/d/f", W)
        fs.write(fd, b"A" * PAGE_BYTES)
        fs.fsync(fd)
        fs.fsync_dir("/d")
        fs.write(fd, b"B" * (2 * PAGE_BYTES))  # pages 2 and 3, unsynced
        fs.crash(random.Random(seed), torn=True)
        data = fs.read_file("/d/f", 1 << 20)
        assert data[:PAGE_BYTES] == b"A" * PAGE_BYTES
        assert len(data) in (PAGE_BYTES, 3 * PAGE_BYTES)
        pages = {data[i : i + PAGE_BYTES] for i in range(PAGE_BYTES, len(data), PAGE_BYTES)}
        assert pages <= {b"B" * PAGE_BYTES, bytes(PAGE_BYTES)}
        seen.add(data)
    assert len(seen) > 2  # really random


def test_errors_are_the_os_ones_and_space_is_bounded():
    """Goal: missing files, bad descriptors and a full disk raise what the OS would."""
    fs = CrashFs(bytes_max=10)
    with pytest.raises(FileNotFoundError):
        fs.open("/nope/f", W)
    with pytest.raises(OSError):
        fs.write(99, b"x")
    fd = fs.open("/f", W)
    with pytest.raises(OSError):
        fs.write(fd, b"x" * 11)
