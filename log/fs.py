"""The file-system seam of log/ and raft/disk_storage: every open, write,
truncate, fsync, rename, removal and directory fsync goes through an `fs`
object.

Why: crash safety is a claim about which writes reach the disk in which
order. Production runs on `OS_FS` (real files, real fsync); tests run the
very same code over a layer that records every call and, at a simulated
crash, keeps only what was made durable (tests/sim/crashfs.py). File
descriptors are plain ints in both, so code stays `fs.write(fd, data)`.

The durability contract the code relies on (and the crash layer enforces):
- file data (and size) survives a crash only up to the file's last fsync /
  fdatasync;
- a directory entry (a new file, a rename, a removal, a new subdirectory)
  survives only after an fsync of the directory holding it;
- a rename replaces its target atomically (old or new, never a mix).
"""

from __future__ import annotations

import os
from typing import Protocol


class FileSystem(Protocol):
    def open(self, path: str, flags: int, mode: int = 0o644) -> int: ...
    def close(self, fd: int) -> None: ...
    def dup(self, fd: int) -> int: ...
    def write(self, fd: int, data) -> int: ...
    def writev(self, fd: int, buffers) -> int: ...
    def pwrite(self, fd: int, data, offset: int) -> int: ...
    def pread(self, fd: int, size: int, offset: int) -> bytes: ...
    def ftruncate(self, fd: int, size: int) -> None: ...
    def fsync(self, fd: int) -> None: ...
    def fdatasync(self, fd: int) -> None: ...
    def fstat_size(self, fd: int) -> int: ...
    def replace(self, src: str, dst: str) -> None: ...
    def remove(self, path: str) -> None: ...
    def listdir(self, path: str) -> list[str]: ...
    def mkdir(self, path: str) -> None: ...
    def exists(self, path: str) -> bool: ...
    def isdir(self, path: str) -> bool: ...
    def fsync_dir(self, path: str) -> None: ...
    def read_file(self, path: str, size_max: int) -> bytes: ...


class OsFs:
    """The real OS: thin wrappers over the os module (no buffering of its own)."""

    open = staticmethod(os.open)
    close = staticmethod(os.close)
    dup = staticmethod(os.dup)
    write = staticmethod(os.write)
    writev = staticmethod(os.writev)
    pwrite = staticmethod(os.pwrite)
    pread = staticmethod(os.pread)
    ftruncate = staticmethod(os.ftruncate)
    fsync = staticmethod(os.fsync)
    fdatasync = staticmethod(getattr(os, "fdatasync", os.fsync))
    replace = staticmethod(os.replace)
    remove = staticmethod(os.remove)
    listdir = staticmethod(os.listdir)
    exists = staticmethod(os.path.exists)
    isdir = staticmethod(os.path.isdir)

    @staticmethod
    def mkdir(path: str) -> None:
        os.mkdir(path)

    @staticmethod
    def fstat_size(fd: int) -> int:
        return os.fstat(fd).st_size

    @staticmethod
    def fsync_dir(path: str) -> None:
        fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def read_file(path: str, size_max: int) -> bytes:
        with open(path, "rb") as f:
            return f.read(size_max)


OS_FS = OsFs()


def makedirs_durable(fs: FileSystem, path: str) -> None:
    """Create `path` and any missing parents, fsyncing each new directory
    into its parent, so a crash cannot make a directory (and every file later
    made durable inside it) vanish. A no-op when `path` exists."""
    path = os.path.normpath(os.fspath(path))
    missing: list[str] = []
    probe = path
    while not fs.exists(probe):
        missing.append(probe)
        parent = os.path.dirname(probe) or "."
        if parent == probe:
            break
        probe = parent
    for new in reversed(missing):
        try:
            fs.mkdir(new)
        except FileExistsError:
            pass
        fs.fsync_dir(os.path.dirname(new) or ".")
