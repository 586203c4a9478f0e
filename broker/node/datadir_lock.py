"""One process per data directory: an exclusive lock on DATA_DIR/.lock.

Why: two nodes on one data directory both append to the same Raft log and
rewrite each other's files; the directory is corrupted within seconds and no
later check can tell which writes were whose. Like Kafka's `.lock`, a node
takes an exclusive, non-blocking `flock` on DATA_DIR/.lock before it touches
anything else there, and holds it (the file stays open) for its lifetime;
the kernel drops the lock when the process dies, however it dies, so a
crashed node never leaves a stale lock behind. `rafka format` and
`rafka quorum up` take or probe the same lock before writing.

The holder writes its pid into the file, only to name it in the refusal.

Invariants: while a `DataDirLock` is held, no other open of the same lock
file (in this or any process) can acquire it; `probe` never creates a file.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE_NAME = ".lock"
# The holder's pid as decimal text; reading more than this is never needed.
LOCK_FILE_BYTES_MAX = 32


class DataDirLockedError(Exception):
    """The data directory is held by another rafka process."""

    code = "DATA_DIR_LOCKED"

    def __init__(self, data_dir: Path, holder_pid: int | None, what: str = "rafka node") -> None:
        pid = f"pid {holder_pid}" if holder_pid is not None else "pid unknown"
        self.message = f"{data_dir} is in use by another {what} ({pid})"
        super().__init__(self.message)
        self.data_dir = data_dir
        self.holder_pid = holder_pid


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, LOCK_FILE_BYTES_MAX, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


class DataDirLock:
    """An exclusive lock on one directory, held until `release` (or exit)."""

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: str | Path, what: str = "rafka node") -> "DataDirLock":
        """Lock an existing directory now or raise DataDirLockedError (never
        waits); OSError when the directory cannot be used at all."""
        path = Path(data_dir)
        fd = os.open(path / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DataDirLockedError(path, holder, what) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError:
            pass  # the pid is only for the message; the lock is what counts
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Drop the lock (closing the file drops the flock); idempotent."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> "DataDirLock":
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def probe(data_dir: str | Path) -> tuple[bool, int | None]:
    """(held, holder_pid): whether another process holds data_dir's lock,
    without keeping it (holder_pid is None when unknown). Creates nothing:
    no lock file means nobody holds it."""
    path = Path(data_dir) / LOCK_FILE_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False, None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True, _read_pid(fd)
        return False, None  # closing fd below releases the probe's own lock
    finally:
        os.close(fd)


def check_unlocked(data_dir: str | Path, what: str = "rafka node") -> None:
    """Raise DataDirLockedError if another process holds data_dir's lock."""
    held, pid = probe(data_dir)
    if held:
        raise DataDirLockedError(Path(data_dir), pid, what)
