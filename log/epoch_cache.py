"""Leader-epoch cache: which leader epoch started at which offset.

Why: a follower that (re)joins asks the leader for the end offset of its
latest epoch and truncates to it, so logs never diverge below the high
watermark (Kafka KIP-101/KIP-279). Raft's log uses the same cache with the
term as the epoch.

Invariants: entries are sorted with strictly increasing epoch and
non-decreasing start offset; the checkpoint is written with atomic_write in
Kafka's checkpoint text format (version line, count line, "epoch offset"
lines).

When the checkpoint is written: an epoch learned from an append
(`assign(..., persist=False)`) describes batch data that is not yet durable,
so PartitionLog writes it only after the fsync that makes that data durable
(`take_pending` before the fsync, `write_checkpoint` after). Otherwise a
crash could leave a checkpoint naming an epoch whose batches were lost.
Truncations persist at once, after the cut is durable. Recovery drops every
epoch starting at or after the recovered log end (`truncate_from_end`, the
same rule as a truncation), so a checkpoint ahead of the data heals on open.
"""

from __future__ import annotations

import os
from typing import Callable

import structlog

from rafka.log.atomic import atomic_write
from rafka.log.fs import OS_FS, FileSystem
from rafka.log.errors import LogDirError

CHECKPOINT_NAME = "leader-epoch-checkpoint"
CHECKPOINT_VERSION = 0
UNDEFINED_EPOCH = -1
UNDEFINED_OFFSET = -1
# A bound on the checkpoint we agree to parse (epochs are few; a huge file is damage).
EPOCH_ENTRIES_MAX = 1_000_000

logger = structlog.get_logger("rafka.log.epoch_cache")


def parse_checkpoint(text: str) -> list[tuple[int, int]]:
    """Decode checkpoint text; raises ValueError on any damage."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2 or int(lines[0]) != CHECKPOINT_VERSION:
        raise ValueError("bad header")
    count = int(lines[1])
    if not 0 <= count <= EPOCH_ENTRIES_MAX or len(lines) != 2 + count:
        raise ValueError("bad entry count")
    entries = []
    for line in lines[2:]:
        epoch_text, offset_text = line.split(" ")
        entries.append((int(epoch_text), int(offset_text)))
    for (e1, o1), (e2, o2) in zip(entries, entries[1:]):
        if e2 <= e1 or o2 < o1:
            raise ValueError("entries out of order")
    if any(e < 0 or o < 0 for e, o in entries):
        raise ValueError("negative entry")
    return entries


def format_checkpoint(entries: list[tuple[int, int]]) -> bytes:
    lines = [str(CHECKPOINT_VERSION), str(len(entries))]
    lines += [f"{epoch} {offset}" for epoch, offset in entries]
    return ("\n".join(lines) + "\n").encode()


class LeaderEpochCache:
    """Epoch -> start offset, persisted in `dir_path/leader-epoch-checkpoint`.

    `log_end_offset` is a callable so end_offset_for can answer for the latest
    epoch without the cache tracking appends.
    """

    def __init__(self, dir_path: str, log_end_offset: Callable[[], int], *, log_fields: dict | None = None,
                 fs: FileSystem = OS_FS):
        self._fs = fs
        self._dirty = False  # entries changed since the checkpoint was written
        self._path = os.path.join(dir_path, CHECKPOINT_NAME)
        self._log_end_offset = log_end_offset
        self._log = logger.bind(**(log_fields or {}))
        self._entries: list[tuple[int, int]] = []
        self.loaded_from_file = False
        if fs.exists(self._path):
            try:
                self._entries = parse_checkpoint(fs.read_file(self._path, 64 * EPOCH_ENTRIES_MAX).decode("ascii"))
                self.loaded_from_file = True
            except (ValueError, UnicodeDecodeError) as exc:
                self._log.warning("leader_epoch_checkpoint_damaged", file=self._path, reason=str(exc))
            except OSError as exc:
                raise LogDirError(f"cannot read {self._path}: {exc}") from exc

    @property
    def entries(self) -> list[tuple[int, int]]:
        return list(self._entries)

    @property
    def latest_epoch(self) -> int:
        """The newest epoch, or -1 when none is known."""
        return self._entries[-1][0] if self._entries else UNDEFINED_EPOCH

    @property
    def earliest_entry(self) -> tuple[int, int] | None:
        return self._entries[0] if self._entries else None

    def assign(self, epoch: int, start_offset: int, *, persist: bool = True) -> None:
        """Record that `epoch` starts at `start_offset`; `persist=False` leaves
        the checkpoint to the next `take_pending`/`write_checkpoint` (appends:
        their data is not durable yet).

        Re-assigning the latest epoch is a no-op. An epoch or start offset that
        conflicts with newer entries removes those entries first (Kafka's
        rule), with a warning, so the invariant holds.
        """
        if epoch < 0 or start_offset < 0:
            raise ValueError(f"epoch {epoch} and start offset {start_offset} must be >= 0")
        if self._entries and self._entries[-1][0] == epoch and self._entries[-1][1] <= start_offset:
            return
        kept = [(e, o) for e, o in self._entries if e < epoch and o <= start_offset]
        if len(kept) != len(self._entries):
            self._log.warning(
                "leader_epoch_conflict_truncated",
                epoch=epoch,
                start_offset=start_offset,
                removed=self._entries[len(kept):],
            )
        kept.append((epoch, start_offset))
        self._set(kept, persist)

    def end_offset_for(self, epoch: int) -> tuple[int, int]:
        """(largest known epoch <= `epoch`, offset where the next epoch starts);
        the log end offset for the latest epoch; (-1, -1) when `epoch` is
        newer than every known epoch or nothing is known (Kafka's semantics)."""
        if epoch == UNDEFINED_EPOCH or not self._entries:
            return (UNDEFINED_EPOCH, UNDEFINED_OFFSET)
        if epoch == self.latest_epoch:
            return (epoch, self._log_end_offset())
        higher = next(((e, o) for e, o in self._entries if e > epoch), None)
        if higher is None:
            return (UNDEFINED_EPOCH, UNDEFINED_OFFSET)
        floor = None
        for e, o in self._entries:
            if e <= epoch:
                floor = (e, o)
        if floor is None:
            return (epoch, higher[1])
        return (floor[0], higher[1])

    def epoch_for_offset(self, offset: int) -> int:
        """The epoch an offset was written in, or -1 if unknown."""
        found = UNDEFINED_EPOCH
        for e, o in self._entries:
            if o <= offset:
                found = e
        return found

    def truncate_from_end(self, end_offset: int, *, persist: bool = True) -> None:
        """Drop epochs that start at or after `end_offset` (log truncated
        there, or recovered up to there): they describe no batch."""
        kept = [(e, o) for e, o in self._entries if o < end_offset]
        if len(kept) != len(self._entries):
            self._set(kept, persist)

    def truncate_from_start(self, start_offset: int, *, persist: bool = True) -> None:
        """Drop epochs wholly before `start_offset`; the one holding it now
        starts there (the log start offset advanced)."""
        kept = list(self._entries)
        while len(kept) > 1 and kept[1][1] <= start_offset:
            kept.pop(0)
        if kept and kept[0][1] < start_offset:
            kept[0] = (kept[0][0], start_offset)
        if kept != self._entries:
            self._set(kept, persist)

    def clear(self) -> None:
        if self._entries:
            self._set([])

    def persist(self) -> None:
        self._dirty = False
        self.write_checkpoint(self._entries)

    def take_pending(self) -> list[tuple[int, int]] | None:
        """The entries to checkpoint if they changed since the last write
        (and mark them written): taken with the data they describe, written
        with `write_checkpoint` once that data is durable."""
        if not self._dirty:
            return None
        self._dirty = False
        return list(self._entries)

    @property
    def dirty(self) -> bool:
        return self._dirty

    def write_checkpoint(self, entries: list[tuple[int, int]]) -> None:
        atomic_write(self._path, format_checkpoint(entries), fs=self._fs)

    def _set(self, entries: list[tuple[int, int]], persist: bool = True) -> None:
        self._entries = entries
        if persist:
            self.persist()
        else:
            self._dirty = True
