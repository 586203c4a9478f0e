"""CrashFs: an in-memory file system that, at a simulated crash, keeps only
what was made durable. The production file code (log/, raft/disk_storage)
runs over it unchanged through the `fs` seam (log/fs.py).

Crash model (the anchor is LazyFS, Jepsen's FUSE file system that loses
un-fsynced data; we lose at least as much as it can):
- a file is an inode with its current bytes and its durable bytes, the
  content at its last fsync/fdatasync. A crash resets the file to its
  durable bytes: writes, appends and truncations since then are lost;
- a directory is an inode with current entries (name -> inode) and durable
  entries, those at its last fsync_dir. A crash resets every directory to
  its durable entries: a file created, renamed, removed or a subdirectory
  made since then is undone. A file fsynced but never linked durably
  vanishes with its entry; a renamed-over file comes back;
- a new directory is an entry of its parent: durable after the parent's fsync;
- `crash(rng, torn=True)`: instead of the worst case, what a kernel may have
  written back on its own: each file gets a random mix of its current and
  durable 4 KiB pages (and one of the two lengths); each directory either
  its current or its durable entries. Never less than was made durable;
- `arm(n)`: the n-th mutating call from now raises SimulatedCrash before it
  takes effect (and so does every call until `crash()`): a crash at any
  instant inside a storage operation, not only between them.

Every mutating call is counted in `ops` and recorded in `journal` (bounded).
Errors are the real OS ones (FileNotFoundError, FileExistsError,
IsADirectoryError, NotADirectoryError, OSError EBADF/ENOSPC/EMFILE).
"""

from __future__ import annotations

import errno
import os
import posixpath
import random
from collections import deque

PAGE_BYTES = 4096


class SimulatedCrash(BaseException):
    """The simulated machine lost power. A BaseException so that no
    `except OSError`/`except Exception` in the code under test swallows it."""


class _File:
    __slots__ = ("data", "durable")

    def __init__(self) -> None:
        self.data = bytearray()
        self.durable = b""


class _Dir:
    __slots__ = ("entries", "durable")

    def __init__(self) -> None:
        self.entries: dict[str, object] = {}
        self.durable: dict[str, object] = {}


class _Fd:
    __slots__ = ("inode", "append", "pos")

    def __init__(self, inode: _File, append: bool) -> None:
        self.inode, self.append, self.pos = inode, append, 0


class CrashFs:
    """See the module docstring. Paths are absolute POSIX paths of its own
    namespace (relative ones are taken from "/")."""

    def __init__(self, *, bytes_max: int = 256 << 20, fds_max: int = 1024, journal_max: int = 200) -> None:
        self._root = _Dir()
        self._fds: dict[int, _Fd] = {}
        self._next_fd = 3
        self.bytes_max = bytes_max
        self.fds_max = fds_max
        self.ops = 0
        self.crashes = 0
        self.journal: deque[str] = deque(maxlen=journal_max)
        self._armed: int | None = None
        self._trigger: tuple[str, int] | None = None
        self._dead = False

    # ---- crash control -------------------------------------------------------

    def arm(self, after_ops: int) -> None:
        """Crash on the `after_ops`-th mutating call from now (1 = the next)."""
        assert after_ops >= 1
        self._armed = after_ops
        self._trigger = None

    def arm_after(self, trigger: str, after_ops: int) -> None:
        """Crash on the `after_ops`-th mutating call after the next call
        whose journal line starts with `trigger` (e.g. "ftruncate": a crash
        right after a cut, the window a truncation must survive)."""
        self._trigger = (trigger, after_ops)

    def disarm(self) -> None:
        self._armed = None
        self._trigger = None

    @property
    def armed(self) -> bool:
        return self._armed is not None or self._trigger is not None

    def crash(self, rng: random.Random | None = None, *, torn: bool = False) -> None:
        """Power loss: every open descriptor is gone and the tree becomes
        what was durable (or, with `torn`, a random mix, module docstring)."""
        assert not torn or rng is not None
        self.crashes += 1
        self._fds.clear()
        self._armed = None
        self._trigger = None
        self._dead = False
        self.journal.append(f"CRASH torn={torn}")
        seen: set[int] = set()
        stack = [self._root]
        while stack:
            d = stack.pop()
            if id(d) in seen:
                continue
            seen.add(id(d))
            if torn and rng.random() < 0.5:
                d.durable = dict(d.entries)
            d.entries = dict(d.durable)
            for inode in d.entries.values():
                if isinstance(inode, _Dir):
                    stack.append(inode)
                elif id(inode) not in seen:
                    seen.add(id(inode))
                    self._crash_file(inode, rng if torn else None)

    @staticmethod
    def _crash_file(f: _File, rng: random.Random | None) -> None:
        if rng is not None and bytes(f.data) != f.durable:
            cur, dur = bytes(f.data), f.durable
            length = rng.choice((len(cur), len(dur)))
            out = bytearray()
            for page in range(0, length, PAGE_BYTES):
                src = cur if rng.random() < 0.5 else dur
                want = min(PAGE_BYTES, length - page)
                chunk = src[page : page + want]
                out += chunk + bytes(want - len(chunk))
            f.durable = bytes(out[:length])
        f.data = bytearray(f.durable)

    def _mutate(self, what: str) -> None:
        if self._dead:
            raise SimulatedCrash("the machine is down")
        if self._armed is not None:
            self._armed -= 1
            if self._armed <= 0:
                self._armed = None
                self._dead = True
                self.journal.append(f"crash before {what}")
                raise SimulatedCrash(what)
        self.ops += 1
        self.journal.append(what)
        if self._trigger is not None and what.startswith(self._trigger[0]):
            self._armed = self._trigger[1]
            self._trigger = None

    # ---- paths ---------------------------------------------------------------

    @staticmethod
    def _split(path) -> list[str]:
        norm = posixpath.normpath("/" + os.fspath(path))
        return [p for p in norm.split("/") if p]

    def _lookup(self, path):
        node = self._root
        for part in self._split(path):
            if not isinstance(node, _Dir):
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", os.fspath(path))
            node = node.entries.get(part)
            if node is None:
                raise FileNotFoundError(errno.ENOENT, "no such file or directory", os.fspath(path))
        return node

    def _parent(self, path) -> tuple[_Dir, str]:
        parts = self._split(path)
        if not parts:
            raise IsADirectoryError(errno.EISDIR, "is the root", os.fspath(path))
        parent = self._lookup("/" + "/".join(parts[:-1]))
        if not isinstance(parent, _Dir):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", os.fspath(path))
        return parent, parts[-1]

    def _fd(self, fd: int) -> _Fd:
        if self._dead:
            raise SimulatedCrash("the machine is down")
        try:
            return self._fds[fd]
        except KeyError:
            raise OSError(errno.EBADF, "bad file descriptor") from None

    def _new_fd(self, handle: _Fd) -> int:
        if len(self._fds) >= self.fds_max:
            raise OSError(errno.EMFILE, "too many open files")
        fd = self._next_fd
        self._next_fd += 1
        self._fds[fd] = handle
        return fd

    def _grow(self, f: _File, new_size: int) -> None:
        if new_size > len(f.data) and new_size - len(f.data) + self.used_bytes() > self.bytes_max:
            raise OSError(errno.ENOSPC, "no space left on device")

    def used_bytes(self) -> int:
        seen: set[int] = set()
        total = 0
        stack = [self._root]
        while stack:
            d = stack.pop()
            for inode in d.entries.values():
                if isinstance(inode, _Dir):
                    stack.append(inode)
                elif id(inode) not in seen:
                    seen.add(id(inode))
                    total += len(inode.data)
        return total

    # ---- the FileSystem protocol (log/fs.py) ----------------------------------

    def open(self, path, flags: int, mode: int = 0o644) -> int:
        if flags & (os.O_CREAT | os.O_TRUNC):
            self._mutate(f"open {path} flags={flags:#o}")
        elif self._dead:
            raise SimulatedCrash("the machine is down")
        parent, name = self._parent(path)
        inode = parent.entries.get(name)
        if inode is None:
            if not flags & os.O_CREAT:
                raise FileNotFoundError(errno.ENOENT, "no such file or directory", os.fspath(path))
            inode = _File()
            parent.entries[name] = inode
        elif flags & os.O_CREAT and flags & os.O_EXCL:
            raise FileExistsError(errno.EEXIST, "file exists", os.fspath(path))
        if isinstance(inode, _Dir):
            raise IsADirectoryError(errno.EISDIR, "is a directory", os.fspath(path))
        if flags & os.O_TRUNC:
            del inode.data[:]
        return self._new_fd(_Fd(inode, bool(flags & os.O_APPEND)))

    def close(self, fd: int) -> None:
        if self._dead:
            return  # the process is going down anyway
        if self._fds.pop(fd, None) is None:
            raise OSError(errno.EBADF, "bad file descriptor")

    def dup(self, fd: int) -> int:
        h = self._fd(fd)
        return self._new_fd(_Fd(h.inode, h.append))

    def _write_at(self, f: _File, data: bytes, pos: int) -> None:
        end = pos + len(data)
        self._grow(f, end)
        if pos > len(f.data):
            f.data += bytes(pos - len(f.data))
        f.data[pos:end] = data

    def write(self, fd: int, data) -> int:
        h = self._fd(fd)
        data = bytes(data)
        self._mutate(f"write fd={fd} {len(data)}B")
        pos = len(h.inode.data) if h.append else h.pos
        self._write_at(h.inode, data, pos)
        h.pos = pos + len(data)
        return len(data)

    def writev(self, fd: int, buffers) -> int:
        return self.write(fd, b"".join(bytes(b) for b in buffers))

    def pwrite(self, fd: int, data, offset: int) -> int:
        h = self._fd(fd)
        data = bytes(data)
        self._mutate(f"pwrite fd={fd} {len(data)}B at {offset}")
        self._write_at(h.inode, data, len(h.inode.data) if h.append else offset)
        return len(data)

    def pread(self, fd: int, size: int, offset: int) -> bytes:
        return bytes(self._fd(fd).inode.data[offset : offset + size])

    def ftruncate(self, fd: int, size: int) -> None:
        h = self._fd(fd)
        self._mutate(f"ftruncate fd={fd} to {size}")
        f = h.inode
        if size < len(f.data):
            del f.data[size:]
        else:
            self._grow(f, size)
            f.data += bytes(size - len(f.data))

    def fsync(self, fd: int) -> None:
        h = self._fd(fd)
        self._mutate(f"fsync fd={fd}")
        h.inode.durable = bytes(h.inode.data)

    fdatasync = fsync

    def fstat_size(self, fd: int) -> int:
        return len(self._fd(fd).inode.data)

    def replace(self, src, dst) -> None:
        self._mutate(f"rename {src} -> {dst}")
        sp, sn = self._parent(src)
        dp, dn = self._parent(dst)
        inode = sp.entries.get(sn)
        if inode is None:
            raise FileNotFoundError(errno.ENOENT, "no such file or directory", os.fspath(src))
        if isinstance(dp.entries.get(dn), _Dir):
            raise IsADirectoryError(errno.EISDIR, "is a directory", os.fspath(dst))
        del sp.entries[sn]
        dp.entries[dn] = inode

    def remove(self, path) -> None:
        self._mutate(f"remove {path}")
        parent, name = self._parent(path)
        inode = parent.entries.get(name)
        if inode is None:
            raise FileNotFoundError(errno.ENOENT, "no such file or directory", os.fspath(path))
        if isinstance(inode, _Dir):
            raise IsADirectoryError(errno.EISDIR, "is a directory", os.fspath(path))
        del parent.entries[name]

    def listdir(self, path) -> list[str]:
        if self._dead:
            raise SimulatedCrash("the machine is down")
        d = self._lookup(path)
        if not isinstance(d, _Dir):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", os.fspath(path))
        return sorted(d.entries)

    def mkdir(self, path) -> None:
        self._mutate(f"mkdir {path}")
        parent, name = self._parent(path)
        if name in parent.entries:
            raise FileExistsError(errno.EEXIST, "file exists", os.fspath(path))
        parent.entries[name] = _Dir()

    def exists(self, path) -> bool:
        try:
            self._lookup(path)
            return True
        except (FileNotFoundError, NotADirectoryError):
            return False

    def isdir(self, path) -> bool:
        try:
            return isinstance(self._lookup(path), _Dir)
        except (FileNotFoundError, NotADirectoryError):
            return False

    def fsync_dir(self, path) -> None:
        self._mutate(f"fsync_dir {path}")
        d = self._lookup(path)
        if not isinstance(d, _Dir):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", os.fspath(path))
        d.durable = dict(d.entries)

    def read_file(self, path, size_max: int) -> bytes:
        if self._dead:
            raise SimulatedCrash("the machine is down")
        f = self._lookup(path)
        if isinstance(f, _Dir):
            raise IsADirectoryError(errno.EISDIR, "is a directory", os.fspath(path))
        return bytes(f.data[:size_max])

    # ---- for tests -------------------------------------------------------------

    def durable_bytes(self, path) -> bytes:
        """The durable content of a file (what a crash now would leave,
        ignoring whether its directory entry is durable)."""
        return self._lookup(path).durable
