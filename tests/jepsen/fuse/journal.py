"""The undo journal of directory changes not yet durable.

Crash rule (tests/sim/crashfs.py's, LazyFS's): a new entry, a removal or a
rename survives a crash only once its directory was fsynced. The lazyfs
applies each change to the backing directory at once (so reads see it) and
records here how to undo it; an fsync of a directory marks that directory
synced in every earlier entry; an entry whose directories are all synced is
committed (forgotten; a removed object's trash deleted). `undo_all`, the
crash, reverts the rest newest first. A removed file or directory and a
renamed-over target wait in the trash until their removal commits.
A rename between two directories needs both fsynced (we may lose more than
a disk would, never less). An undo that no longer applies (its directory is
gone for good) is dropped.
"""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import dataclass, field

from tests.jepsen.fuse.inodes import InodeTable


@dataclass
class Entry:
    kind: str  # "new" | "gone" | "rename"
    dirs: set[int]
    parent: int
    name: bytes
    trash: str | None = None  # gone: where it waits; rename: the replaced target
    new_parent: int = 0
    new_name: bytes = b""
    synced: set[int] = field(default_factory=set)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


class Journal:
    def __init__(self, table: InodeTable, trash_dir: str) -> None:
        self.table = table
        self.trash_dir = trash_dir
        self.entries: list[Entry] = []
        self._seq = itertools.count()
        os.makedirs(trash_dir, exist_ok=True)

    def new_trash(self) -> str:
        return os.path.join(self.trash_dir, str(next(self._seq)))

    def created(self, parent: int, name: bytes) -> None:
        self.entries.append(Entry("new", {parent}, parent, name))

    def removed(self, parent: int, name: bytes, trash: str) -> None:
        self.entries.append(Entry("gone", {parent}, parent, name, trash))

    def renamed(self, parent: int, name: bytes, new_parent: int, new_name: bytes,
                replaced_trash: str | None) -> None:
        self.entries.append(Entry("rename", {parent, new_parent}, parent, name, replaced_trash,
                                  new_parent, new_name))

    def dir_synced(self, ino: int) -> None:
        keep = []
        for e in self.entries:
            if ino in e.dirs:
                e.synced.add(ino)
            if e.dirs <= e.synced:
                self._commit(e)
            else:
                keep.append(e)
        self.entries = keep

    def _commit(self, e: Entry) -> None:
        if e.trash is not None:
            _remove(e.trash)
            self.table.remove(e.trash)

    def tear(self, rng) -> None:
        """A torn crash: each directory kept its current entries (as if
        fsynced) or its durable ones, at random; undo_all does the rest."""
        for ino in sorted({d for e in self.entries for d in e.dirs}):
            if rng.random() < 0.5:
                self.dir_synced(ino)

    def undo_all(self) -> list[str]:
        """Revert every uncommitted change, newest first; returns them."""
        undone = []
        for e in reversed(self.entries):
            try:
                what = self.describe(e)
                self._undo(e)
                undone.append(what)
            except (OSError, KeyError):
                if e.trash is not None:
                    _remove(e.trash)
                    self.table.remove(e.trash)
        self.entries.clear()
        return undone

    def describe(self, e: Entry) -> str:
        where = self.table.child(e.parent, e.name)
        if e.kind == "rename":
            return f"rename {where} -> {self.table.child(e.new_parent, e.new_name)}"
        return f"{e.kind} {where}"

    def _undo(self, e: Entry) -> None:
        t = self.table
        if e.kind == "new":
            rel = t.child(e.parent, e.name)
            _remove(t.abs(rel))
            t.remove(rel)
        elif e.kind == "gone":
            rel = t.child(e.parent, e.name)
            os.rename(e.trash, t.abs(rel))
            t.move(e.trash, rel)
        else:
            src, dst = t.child(e.parent, e.name), t.child(e.new_parent, e.new_name)
            os.rename(t.abs(dst), t.abs(src))
            t.move(dst, src)
            if e.trash is not None:
                os.rename(e.trash, t.abs(dst))
                t.move(e.trash, dst)
