"""The page cache of one file: written data waits here until fsync.

Why: a disk keeps only what was fsynced when power goes (LazyFS's model,
tests/sim/crashfs.py's too). The backing file always holds the durable
content; writes and truncations since the last fsync live in `pages`
(4 KiB pages) and `size`; `floor` marks where a truncation cut the backing
content (bytes at or past it read as zeros until overwritten). `flush`
makes it all durable; `drop` forgets it all (what a crash does).
Pure: the backing file is reached through a file descriptor and os.pread /
os.pwrite / os.ftruncate / os.fsync only.
"""

from __future__ import annotations

import os

PAGE = 4096


class FileCache:
    """Cached state of one file over its backing file (see module doc)."""

    def __init__(self, durable_size: int) -> None:
        self.durable_size = durable_size
        self.size = durable_size
        self.pages: dict[int, bytearray] = {}
        self.floor: int | None = None

    @property
    def dirty(self) -> bool:
        return bool(self.pages) or self.floor is not None or self.size != self.durable_size

    @property
    def dirty_bytes(self) -> int:
        return len(self.pages) * PAGE

    def _backing_page(self, fd: int, idx: int) -> bytearray:
        start = idx * PAGE
        page = bytearray(PAGE)
        if start < self.durable_size:
            data = os.pread(fd, PAGE, start)
            page[: len(data)] = data
        if self.floor is not None and start + PAGE > self.floor:
            cut = max(self.floor - start, 0)
            page[cut:] = bytes(PAGE - cut)
        return page

    def read(self, fd: int, off: int, n: int) -> bytes:
        end = min(off + n, self.size)
        if off >= end:
            return b""
        if not self.pages and self.floor is None:
            data = os.pread(fd, end - off, off) if off < self.durable_size else b""
            return data + bytes(end - off - len(data))
        out = bytearray()
        for idx in range(off // PAGE, (end - 1) // PAGE + 1):
            page = self.pages.get(idx)
            if page is None:
                page = self._backing_page(fd, idx)
            lo = max(off - idx * PAGE, 0)
            hi = min(end - idx * PAGE, PAGE)
            out += page[lo:hi]
        return bytes(out)

    def write(self, fd: int, off: int, data: bytes) -> int:
        pos = 0
        while pos < len(data):
            idx, lo = divmod(off + pos, PAGE)
            take = min(PAGE - lo, len(data) - pos)
            page = self.pages.get(idx)
            if page is None:
                page = bytearray(PAGE) if take == PAGE else self._backing_page(fd, idx)
                self.pages[idx] = page
            page[lo: lo + take] = data[pos: pos + take]
            pos += take
        self.size = max(self.size, off + len(data))
        return len(data)

    def truncate(self, new_size: int) -> None:
        if new_size < self.size:
            for idx in [i for i in self.pages if i * PAGE >= new_size]:
                del self.pages[idx]
            idx, lo = divmod(new_size, PAGE)
            if lo and idx in self.pages:
                self.pages[idx][lo:] = bytes(PAGE - lo)
            if new_size < self.durable_size:
                self.floor = new_size if self.floor is None else min(self.floor, new_size)
        self.size = new_size

    def flush(self, fd: int, *, sync: bool = True) -> None:
        """Write everything to the backing file (and fsync it when `sync`)."""
        if self.floor is not None:
            os.ftruncate(fd, min(self.floor, self.durable_size))
        for idx in sorted(self.pages):
            start = idx * PAGE
            os.pwrite(fd, bytes(self.pages[idx][: max(0, min(PAGE, self.size - start))]), start)
        os.ftruncate(fd, self.size)
        if sync:
            os.fsync(fd)
        self.pages.clear()
        self.floor = None
        self.durable_size = self.size

    def drop_torn(self, fd: int, rng) -> int:
        """A torn crash (tests/sim/crashfs.py's `torn`): what a kernel may
        have written back on its own: each dirty page kept or lost at random,
        the truncation kept or not, the length either the durable or the
        current one. Never less than was fsynced. Returns bytes lost."""
        size = rng.choice([self.durable_size, self.size])
        if self.floor is not None and rng.random() < 0.5:
            os.ftruncate(fd, min(self.floor, self.durable_size))
        kept = [i for i in sorted(self.pages) if i * PAGE < size and rng.random() < 0.5]
        for idx in kept:
            start = idx * PAGE
            os.pwrite(fd, bytes(self.pages[idx][: min(PAGE, size - start)]), start)
        os.ftruncate(fd, size)
        lost = (len(self.pages) - len(kept)) * PAGE
        self.pages.clear()
        self.floor = None
        self.durable_size = self.size = size
        return lost

    def drop(self) -> int:
        """Forget everything since the last flush; returns bytes dropped."""
        lost = self.dirty_bytes
        self.pages.clear()
        self.floor = None
        self.size = self.durable_size
        return lost
