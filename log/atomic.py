"""Crash-safe replacement of small files (checkpoints, Raft hard state).

Why: a checkpoint must be either the old or the new content after a crash,
never a torn mix. Invariant after atomic_write returns: the new content is
durable under `path` (file fsynced, rename fsynced through the directory).
"""

from __future__ import annotations

import os

TMP_SUFFIX = ".tmp"


def fsync_dir(path: str | os.PathLike) -> None:
    """Make creations, renames and deletions inside directory `path` durable."""
    fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data`: write a temp file, fsync it, rename it over
    `path`, fsync the directory. `durable=False` skips both fsyncs (for files
    that are rebuilt when damaged, such as indexes) but keeps the rename, so
    readers still see either the old or the new file whole."""
    path = os.fspath(path)
    tmp = path + TMP_SUFFIX
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(os.path.dirname(path) or ".")
