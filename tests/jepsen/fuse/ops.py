"""The lazyfs file system (pyfuse3 Operations): pass-through to a backing
directory, file data held in a FileCache until fsync, directory changes
undoable until their directory's fsync (journal.py). `drop()` is the crash.

Kernel caching is off (direct_io on every open, zero entry/attr timeouts)
so after a drop nothing stale is served from the kernel's page cache.
Paths whose first component is in `passthrough` (the node's logs/) are
written straight through and never dropped: they are for diagnosis, not
under test. Not supported (ENOSYS): hard links, symlinks, mknod of
devices, rename flags (RENAME_NOREPLACE/EXCHANGE: EINVAL).
"""

from __future__ import annotations

import errno
import functools
import itertools
import os
import random
import stat

import pyfuse3

from tests.jepsen.fuse.inodes import ROOT_INODE, InodeTable
from tests.jepsen.fuse.journal import Journal
from tests.jepsen.fuse.pagecache import FileCache

WRITEBACK_BYTES = 64 << 20  # a file's dirty data past this is written back (not fsynced)


def _os_errors(fn):
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        try:
            return await fn(*args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None
        except KeyError:
            raise pyfuse3.FUSEError(errno.ENOENT) from None
    return wrapper


class _Handle:
    __slots__ = ("ino", "fd", "append")

    def __init__(self, ino: int, fd: int, append: bool) -> None:
        self.ino, self.fd, self.append = ino, fd, append


class LazyOps(pyfuse3.Operations):
    enable_writeback_cache = False

    def __init__(self, backing: str, trash: str, passthrough: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.table = InodeTable(os.path.abspath(backing))
        self.journal = Journal(self.table, trash)
        self.passthrough = set(passthrough)
        self.caches: dict[int, FileCache] = {}
        self.handles: dict[int, _Handle] = {}
        self.dirs: dict[int, int] = {}
        self._fh = itertools.count(1)
        self.drops = 0

    # --- helpers -------------------------------------------------------------

    def _through(self, rel: str) -> bool:
        return rel.split("/", 1)[0] in self.passthrough

    def _cache(self, ino: int) -> FileCache:
        cache = self.caches.get(ino)
        if cache is None:
            cache = FileCache(os.lstat(self.table.abs(self.table.path(ino))).st_size)
            self.caches[ino] = cache
        return cache

    def _attr(self, ino: int) -> pyfuse3.EntryAttributes:
        st = os.lstat(self.table.abs(self.table.path(ino)))
        a = pyfuse3.EntryAttributes()
        a.st_ino = ino
        a.generation = 0
        a.entry_timeout = 0
        a.attr_timeout = 0
        a.st_mode = st.st_mode
        a.st_nlink = st.st_nlink
        a.st_uid = st.st_uid
        a.st_gid = st.st_gid
        a.st_rdev = st.st_rdev
        size = st.st_size
        if ino in self.caches and stat.S_ISREG(st.st_mode):
            size = self.caches[ino].size
        a.st_size = size
        a.st_blksize = 4096
        a.st_blocks = (size + 511) // 512
        a.st_atime_ns = st.st_atime_ns
        a.st_mtime_ns = st.st_mtime_ns
        a.st_ctime_ns = st.st_ctime_ns
        return a

    # --- the crash -------------------------------------------------------------

    def drop(self, torn_seed: int | None = None) -> dict:
        """Lose every write and directory change not yet fsynced; with a
        `torn_seed`, lose a random part of them (each page, each directory)."""
        rng = random.Random(torn_seed) if torn_seed is not None else None
        lost = {}
        for ino, cache in sorted(self.caches.items()):
            if not cache.dirty or not self.table.known(ino):
                continue
            path = self.table.path(ino)
            if rng is None:
                lost[path] = cache.drop()
                continue
            fd = os.open(self.table.abs(path), os.O_RDWR)
            try:
                lost[path] = cache.drop_torn(fd, rng)
            finally:
                os.close(fd)
        if rng is not None:
            self.journal.tear(rng)
        undone = self.journal.undo_all()
        print(f"drop {self.drops + 1} torn_seed={torn_seed}: data lost {lost}; undone {undone}",
              flush=True)
        for ino in [i for i in self.caches if not self.table.known(i)]:
            del self.caches[ino]
        self.drops += 1
        return {"drops": self.drops, "bytes_dropped": sum(lost.values()),
                "files_dropped": len(lost), "dir_changes_undone": len(undone)}

    # --- lookups -------------------------------------------------------------

    @_os_errors
    async def lookup(self, parent_inode, name, ctx):
        rel = self.table.child(parent_inode, name)
        os.lstat(self.table.abs(rel))
        return self._attr(self.table.ino_of(rel))

    @_os_errors
    async def getattr(self, inode, ctx):
        return self._attr(inode)

    @_os_errors
    async def setattr(self, inode, attr, fields, fh, ctx):
        rel = self.table.path(inode)
        path = self.table.abs(rel)
        if fields.update_size:
            if self._through(rel):
                os.truncate(path, attr.st_size)
            else:
                self._cache(inode).truncate(attr.st_size)
        if fields.update_mode:
            os.chmod(path, stat.S_IMODE(attr.st_mode))
        if fields.update_uid or fields.update_gid:
            os.chown(path, attr.st_uid if fields.update_uid else -1,
                     attr.st_gid if fields.update_gid else -1)
        if fields.update_atime or fields.update_mtime:
            st = os.lstat(path)
            os.utime(path, ns=(attr.st_atime_ns if fields.update_atime else st.st_atime_ns,
                               attr.st_mtime_ns if fields.update_mtime else st.st_mtime_ns))
        return self._attr(inode)

    async def forget(self, inode_list):
        return None

    @_os_errors
    async def statfs(self, ctx):
        s = os.statvfs(self.table.root)
        out = pyfuse3.StatvfsData()
        for name in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files",
                     "f_ffree", "f_favail", "f_namemax"):
            setattr(out, name, getattr(s, name))
        return out

    # --- directories -----------------------------------------------------------

    @_os_errors
    async def opendir(self, inode, ctx):
        if not stat.S_ISDIR(os.lstat(self.table.abs(self.table.path(inode))).st_mode):
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        fh = next(self._fh)
        self.dirs[fh] = inode
        return fh

    @_os_errors
    async def readdir(self, fh, start_id, token):
        ino = self.dirs[fh]
        names = sorted(os.listdir(self.table.abs(self.table.path(ino))))
        for i, name in enumerate(names[start_id:], start_id):
            rel = self.table.child(ino, os.fsencode(name))
            try:
                attr = self._attr(self.table.ino_of(rel))
            except OSError:
                continue
            if not pyfuse3.readdir_reply(token, os.fsencode(name), attr, i + 1):
                return

    async def releasedir(self, fh):
        self.dirs.pop(fh, None)

    @_os_errors
    async def fsyncdir(self, fh, datasync):
        self.journal.dir_synced(self.dirs[fh])

    @_os_errors
    async def mkdir(self, parent_inode, name, mode, ctx):
        rel = self.table.child(parent_inode, name)
        os.mkdir(self.table.abs(rel), stat.S_IMODE(mode))
        if not self._through(rel):
            self.journal.created(parent_inode, name)
        return self._attr(self.table.ino_of(rel))

    async def rmdir(self, parent_inode, name, ctx):
        await self._remove(parent_inode, name, want_dir=True)

    async def unlink(self, parent_inode, name, ctx):
        await self._remove(parent_inode, name, want_dir=False)

    @_os_errors
    async def _remove(self, parent, name, *, want_dir: bool):
        rel = self.table.child(parent, name)
        path = self.table.abs(rel)
        is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
        if want_dir and not is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        if not want_dir and is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR)
        if is_dir and os.listdir(path):
            raise pyfuse3.FUSEError(errno.ENOTEMPTY)
        if self._through(rel):
            (os.rmdir if is_dir else os.unlink)(path)
            self.table.remove(rel)
            return
        trash = self.journal.new_trash()
        os.rename(path, trash)
        self.table.move(rel, trash)
        self.journal.removed(parent, name, trash)

    @_os_errors
    async def rename(self, parent_inode_old, name_old, parent_inode_new, name_new, flags, ctx):
        if flags:
            raise pyfuse3.FUSEError(errno.EINVAL)
        src = self.table.child(parent_inode_old, name_old)
        dst = self.table.child(parent_inode_new, name_new)
        src_path, dst_path = self.table.abs(src), self.table.abs(dst)
        src_dir = stat.S_ISDIR(os.lstat(src_path).st_mode)
        replaced = None
        if os.path.lexists(dst_path):
            dst_dir = stat.S_ISDIR(os.lstat(dst_path).st_mode)
            if src_dir and not dst_dir:
                raise pyfuse3.FUSEError(errno.ENOTDIR)
            if dst_dir and not src_dir:
                raise pyfuse3.FUSEError(errno.EISDIR)
            if dst_dir and os.listdir(dst_path):
                raise pyfuse3.FUSEError(errno.ENOTEMPTY)
            if src == dst:
                return
            if self._through(dst) or self._through(src):
                (os.rmdir if dst_dir else os.unlink)(dst_path)
                self.table.remove(dst)
            else:
                replaced = self.journal.new_trash()
                os.rename(dst_path, replaced)
                self.table.move(dst, replaced)
        os.rename(src_path, dst_path)
        self.table.move(src, dst)
        if not (self._through(src) and self._through(dst)):
            self.journal.renamed(parent_inode_old, name_old, parent_inode_new, name_new, replaced)

    # --- files ---------------------------------------------------------------

    def _open_handle(self, ino: int, flags: int) -> pyfuse3.FileInfo:
        fd = os.open(self.table.abs(self.table.path(ino)), os.O_RDWR)
        fh = next(self._fh)
        self.handles[fh] = _Handle(ino, fd, bool(flags & os.O_APPEND))
        return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False)

    @_os_errors
    async def open(self, inode, flags, ctx):
        rel = self.table.path(inode)
        if stat.S_ISDIR(os.lstat(self.table.abs(rel)).st_mode):
            raise pyfuse3.FUSEError(errno.EISDIR)
        info = self._open_handle(inode, flags)
        if flags & os.O_TRUNC:
            if self._through(rel):
                os.ftruncate(self.handles[info.fh].fd, 0)
            else:
                self._cache(inode).truncate(0)
        return info

    @_os_errors
    async def create(self, parent_inode, name, mode, flags, ctx):
        rel = self.table.child(parent_inode, name)
        path = self.table.abs(rel)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | (flags & os.O_EXCL), stat.S_IMODE(mode))
        os.close(fd)
        ino = self.table.ino_of(rel)
        if not self._through(rel):
            self.journal.created(parent_inode, name)
            self.caches[ino] = FileCache(os.lstat(path).st_size)
        return self._open_handle(ino, flags), self._attr(ino)

    @_os_errors
    async def read(self, fh, off, size):
        h = self.handles[fh]
        cache = self.caches.get(h.ino)
        if cache is None:
            return os.pread(h.fd, size, off)
        return cache.read(h.fd, off, size)

    @_os_errors
    async def write(self, fh, off, buf):
        h = self.handles[fh]
        if self._through(self.table.path(h.ino)):
            if h.append:
                off = os.fstat(h.fd).st_size
            return os.pwrite(h.fd, buf, off)
        cache = self._cache(h.ino)
        if h.append:
            off = cache.size
        n = cache.write(h.fd, off, buf)
        if cache.dirty_bytes > WRITEBACK_BYTES:
            cache.flush(h.fd, sync=False)
        return n

    @_os_errors
    async def fsync(self, fh, datasync):
        h = self.handles[fh]
        cache = self.caches.get(h.ino)
        if cache is not None:
            cache.flush(h.fd)
        else:
            os.fsync(h.fd)

    async def flush(self, fh):
        return None

    async def release(self, fh):
        h = self.handles.pop(fh, None)
        if h is not None:
            os.close(h.fd)
