"""Inode numbers <-> backing paths for the lazyfs process.

Paths are relative to the backing root ("" is the root, inode 1); a path
starting with "/" is absolute (the trash directory outside the backing
root, where removed entries wait until their removal is durable). A rename
or removal of a directory carries every path under it along.
"""

from __future__ import annotations

import os

ROOT_INODE = 1


class InodeTable:
    def __init__(self, root: str) -> None:
        self.root = root
        self._path: dict[int, str] = {ROOT_INODE: ""}
        self._ino: dict[str, int] = {"": ROOT_INODE}
        self._next = ROOT_INODE + 1

    def abs(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    def path(self, ino: int) -> str:
        return self._path[ino]

    def known(self, ino: int) -> bool:
        return ino in self._path

    def inodes(self) -> list[int]:
        return list(self._path)

    def child(self, parent: int, name: bytes) -> str:
        base = self._path[parent]
        return os.path.join(base, os.fsdecode(name)) if base else os.fsdecode(name)

    def ino_of(self, rel: str) -> int:
        ino = self._ino.get(rel)
        if ino is None:
            ino = self._next
            self._next += 1
            self._ino[rel] = ino
            self._path[ino] = rel
        return ino

    def _under(self, rel: str) -> list[str]:
        prefix = rel + "/"
        return [p for p in self._ino if p == rel or p.startswith(prefix)]

    def move(self, old: str, new: str) -> None:
        self.remove(new)
        for p in self._under(old):
            ino = self._ino.pop(p)
            q = new + p[len(old):]
            self._ino[q] = ino
            self._path[ino] = q

    def remove(self, rel: str) -> None:
        for p in self._under(rel):
            del self._path[self._ino.pop(p)]
