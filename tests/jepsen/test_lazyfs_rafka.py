"""rafka's own storage code on lazyfs: what it creates survives a drop of
everything not fsynced (the lose-unfsynced nemesis, in isolation).
Needs FUSE like test_lazyfs.py (fails with the reason, never skips)."""

from __future__ import annotations

import os

from tests.jepsen.test_lazyfs import mnt  # noqa: F401 - the fixture

from rafka.broker.replica.log_dirs import LogDirs


def test_log_dir_created_by_the_replica_manager_survives_a_power_cut(mnt):  # noqa: F811
    """Goal: DATA_DIR/data, made at start-up, is durable in DATA_DIR: it
    vanished at the first lose-unfsynced drop (with every partition in it)."""
    m = mnt.mount
    os.mkdir(m / "node")
    fd = os.open(m, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)
    LogDirs([m / "node" / "data"])
    out = mnt.drop()
    assert (m / "node" / "data").is_dir(), out
