"""Crash-safe replacement of small files (checkpoints, Raft hard state).

Why: a checkpoint must be either the old or the new content after a crash,
never a torn mix. Invariant after atomic_write returns: the new content is
durable under `path` (file fsynced, rename fsynced through the directory).
All I/O goes through `fs` (log/fs.py; the real OS by default).
"""

from __future__ import annotations

import os

from rafka.log.fs import OS_FS, FileSystem

TMP_SUFFIX = ".tmp"


def fsync_dir(path: str | os.PathLike, fs: FileSystem = OS_FS) -> None:
    """Make creations, renames and deletions inside directory `path` durable."""
    fs.fsync_dir(os.fspath(path))


def write_all(fs: FileSystem, fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[fs.write(fd, view):]


def atomic_write(path: str | os.PathLike, data: bytes, *, durable: bool = True, fs: FileSystem = OS_FS) -> None:
    """Replace `path` with `data`: write a temp file, fsync it, rename it over
    `path`, fsync the directory. `durable=False` skips both fsyncs (for files
    that are rebuilt when damaged, such as indexes) but keeps the rename, so
    readers still see either the old or the new file whole (until a crash:
    then the file may be old, new, missing or damaged, see log/fs.py)."""
    path = os.fspath(path)
    tmp = path + TMP_SUFFIX
    fd = fs.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fs, fd, data)
        if durable:
            fs.fsync(fd)
    finally:
        fs.close(fd)
    fs.replace(tmp, path)
    if durable:
        fs.fsync_dir(os.path.dirname(path) or ".")
