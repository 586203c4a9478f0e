"""DiskStorage: the durable Raft storage of a node's `metadata/` directory.

Layout of the directory:
    __cluster_metadata-0/   a log/ PartitionLog; Raft index i is offset i;
                            each entry is one record (key = one byte of
                            EntryKind, value = data) and each same-term run
                            of a Ready is one batch whose partition-leader-
                            epoch is the term
    hard-state              term, vote (atomic_write: fsynced)
    commit-index            commit (fixed-size record rewritten in place, not
                            fsynced: may lag; a torn one reads as unknown)
    snapshot-<index>.snap   state-machine snapshots (atomic_write), newest wins

Durability contract (the driver calls these in a worker thread, in order,
before sending a Ready's messages):
    apply_snapshot(snap)   durable when it returns
    append(entries)        buffered (no fsync)
    sync()                 one fsync for every append before it (group commit)
    set_hard_state(hs)     term and vote durable when it returns (atomic_write
                           + fsync); commit written without fsync (one
                           pwrite: cheap enough for the event loop)
So term and vote are on disk before any vote reply, and entries before any
append acknowledgement.

Reads never touch the disk: every entry after the snapshot is mirrored in a
MemoryStorage (the metadata log is small and compacted by snapshots).

Recovery on open: the partition log cuts a torn or corrupt tail itself; the
newest snapshot file that decodes is used (damaged ones are skipped with a
warning); entries at or below the snapshot index are ignored, and entries
after it are kept only if the log's entry at the snapshot index has the
snapshot's term (a crash inside apply_snapshot leaves the snapshot file
durable but the old, possibly conflicting, log: Raft's log matching says
such a suffix does not follow the snapshot, so it goes).

Crash atomicity of a conflict (issue 9): the leader's first conflicting
index usually falls inside a stored batch (one batch per Ready). The kept
head of that batch is read back FROM DISK (never from the memory mirror,
which a snapshot may have trimmed) and handed to PartitionLog.truncate_to,
which writes it to a new file and renames it into place before cutting the
old one (log/retention.py): a crash at any instant leaves the old log or
the new one, never fewer kept entries. Every file operation goes through
`fs` (log/fs.py), so the simulator runs this code over a file layer that
loses what was not made durable (tests/sim/crashfs.py).

The byte formats (entry batches, CRC-sealed state and snapshot files) live
in raft.disk_codec; their names are re-exported here.
"""

from __future__ import annotations

import os

from typing import Callable

import structlog

from rafka.log.atomic import atomic_write
from rafka.log.config import LogConfig
from rafka.log.errors import OffsetOutOfRangeError
from rafka.log.fs import OS_FS, FileSystem, makedirs_durable
from rafka.log.partition_log import PartitionLog
from rafka.raft.disk_codec import (
    READ_CHUNK_BYTES,
    VARINT_CACHE_MAX,
    decode_commit,
    decode_hard_state,
    decode_snapshot,
    encode_commit,
    encode_entries,
    encode_hard_state,
    encode_snapshot,
    read_batch_head,
    read_entries,
)
from rafka.raft.errors import CompactedError, StorageError
from rafka.raft.raft_log import limit_entries_bytes
from rafka.raft.storage import MemoryStorage
from rafka.raft.types import ENTRY_OVERHEAD_BYTES, ConfigState, Entry, HardState, Snapshot

__all__ = [
    "COMMIT_NAME",
    "HARD_STATE_NAME",
    "LOG_DIR_NAME",
    "READ_CHUNK_BYTES",
    "SNAPSHOT_PREFIX",
    "SNAPSHOT_SUFFIX",
    "VARINT_CACHE_MAX",
    "DiskStorage",
    "decode_snapshot",
    "encode_entries",
    "encode_snapshot",
]

LOG_DIR_NAME = "__cluster_metadata-0"
HARD_STATE_NAME = "hard-state"
COMMIT_NAME = "commit-index"
SNAPSHOT_PREFIX = "snapshot-"
SNAPSHOT_SUFFIX = ".snap"
# Bounds on the small files read whole at open (a bigger one is damage).
STATE_FILE_BYTES_MAX = 4096
SNAPSHOT_FILE_BYTES_MAX = 1 << 30

_module_logger = structlog.get_logger("rafka.raft.storage")


class DiskStorage:
    """See the module docstring. Open with DiskStorage.open(path, bootstrap)."""

    io_in_thread = True  # writes fsync: the driver runs them in a worker thread

    def __init__(self, path: str, plog: PartitionLog, mem: MemoryStorage, batch_bytes_max: int,
                 fs: FileSystem = OS_FS) -> None:
        self.fs = fs
        self.path = path
        self._plog = plog
        self._mem = mem
        self._batch_bytes_max = batch_bytes_max
        self._log = _module_logger.bind(raft_dir=path)
        self._commit_fd: int | None = None

    @classmethod
    def open(
        cls, path: str | os.PathLike, bootstrap: ConfigState, *, log_config: LogConfig | None = None,
        fs: FileSystem = OS_FS, now_ms: Callable[[], int] | None = None, log_fields: dict | None = None,
        logger=None,
    ) -> "DiskStorage":
        """Open (creating it, fsynced into its parent) the metadata directory
        `path`. `fs`: the file layer; `now_ms`: the log's clock (both for
        tests and the simulator); `log_fields`: extra log context (node);
        `logger`: the structlog logger to bind (default: rafka.raft.storage)."""
        path = os.fspath(path)
        makedirs_durable(fs, path)
        log = (logger or _module_logger).bind(raft_dir=path, **(log_fields or {}))
        config = log_config or LogConfig(batch_bytes_max=64 << 20, retention_ms=-1, retention_bytes=-1)
        snapshot = cls._load_newest_snapshot(path, log, fs)
        hard_state = cls._load_hard_state(path, log, fs)
        plog = PartitionLog.open(os.path.join(path, LOG_DIR_NAME), config, fs=fs, now_ms=now_ms,
                                 logger=(logger or _module_logger).bind(**(log_fields or {})))
        if plog.log_end_offset == 0:
            plog.delete_before(1)  # offsets are Raft indexes, which start at 1
        mem = MemoryStorage(bootstrap, hard_state)
        if not snapshot.is_empty:
            mem.apply_snapshot(snapshot)
        snap_index = snapshot.meta.index
        cls._drop_suffix_not_following(plog, snapshot, log)
        if plog.log_start_offset > snap_index + 1:
            raise StorageError(
                f"raft log starts at {plog.log_start_offset} but the snapshot covers only up to {snap_index}"
            )
        if plog.log_end_offset <= snap_index + 1:
            plog.delete_before(snap_index + 1)
        else:
            mem.append(read_entries(plog, snap_index + 1))
        self = cls(path, plog, mem, config.batch_bytes_max - 1024, fs)
        self._log = log
        log.info(
            "raft_storage_opened",
            snapshot_index=snap_index,
            last_index=mem.last_index(),
            term=hard_state.term,
            commit=hard_state.commit,
        )
        return self

    @staticmethod
    def _drop_suffix_not_following(plog: PartitionLog, snapshot: Snapshot, log) -> None:
        """Drop the log after the snapshot unless it continues it: the
        stored entry at the snapshot index must have the snapshot's term (or
        the log was compacted by us up to it, which only our own, consistent,
        snapshots do)."""
        snap_index = snapshot.meta.index
        if snapshot.is_empty or plog.log_end_offset <= snap_index + 1 or plog.log_start_offset > snap_index:
            return
        try:
            _, term, _ = read_batch_head(plog, snap_index)
        except OffsetOutOfRangeError:
            term = None
        if term == snapshot.meta.term:
            return
        log.warning("raft_log_truncated", from_index=snap_index + 1, last_index=plog.log_end_offset - 1,
                    reason=f"the log has term {term} at the snapshot index {snap_index}, the snapshot "
                    f"{snapshot.meta.term}: the suffix does not follow the snapshot")
        plog.truncate_to(snap_index + 1)

    @staticmethod
    def _load_hard_state(path: str, log, fs: FileSystem = OS_FS) -> HardState:
        file = os.path.join(path, HARD_STATE_NAME)
        try:
            blob = fs.read_file(file, STATE_FILE_BYTES_MAX)
        except FileNotFoundError:
            return HardState()
        term, vote = decode_hard_state(blob, file)
        commit = 0
        commit_file = os.path.join(path, COMMIT_NAME)
        try:
            commit = decode_commit(fs.read_file(commit_file, STATE_FILE_BYTES_MAX), commit_file)
        except FileNotFoundError:
            pass
        except Exception as exc:  # not fsynced by design: a damaged one means "unknown"
            log.warning("raft_commit_index_unreadable", file=commit_file, reason=str(exc))
        return HardState(term, vote, commit)

    @staticmethod
    def _snapshot_files(path: str, fs: FileSystem = OS_FS) -> list[tuple[int, str]]:
        out = []
        for name in fs.listdir(path):
            if name.startswith(SNAPSHOT_PREFIX) and name.endswith(SNAPSHOT_SUFFIX):
                digits = name[len(SNAPSHOT_PREFIX) : -len(SNAPSHOT_SUFFIX)]
                if digits.isdigit():
                    out.append((int(digits), os.path.join(path, name)))
        return sorted(out)

    @classmethod
    def _load_newest_snapshot(cls, path: str, log, fs: FileSystem = OS_FS) -> Snapshot:
        for index, file in reversed(cls._snapshot_files(path, fs)):
            try:
                snap = decode_snapshot(fs.read_file(file, SNAPSHOT_FILE_BYTES_MAX), file)
                if snap.meta.index != index:
                    raise StorageError(f"{file}: holds index {snap.meta.index}")
                return snap
            except (OSError, StorageError) as exc:
                log.warning("raft_snapshot_skipped", file=file, reason=str(exc))
        return Snapshot()

    # ------------------------------------------------------------ read side
    def initial_state(self) -> tuple[HardState, ConfigState]:
        return self._mem.initial_state()

    def first_index(self) -> int:
        return self._mem.first_index()

    def last_index(self) -> int:
        return self._mem.last_index()

    def term(self, index: int) -> int:
        return self._mem.term(index)

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        return limit_entries_bytes(self._mem.entries(lo, hi), max_bytes)

    def snapshot(self) -> Snapshot:
        return self._mem.snapshot()

    @property
    def hard_state(self) -> HardState:
        return self._mem.hard_state

    # ------------------------------------------------------------ write side
    def append(self, entries: list[Entry]) -> None:
        """Buffered append (call sync() before acknowledging)."""
        if not entries:
            return
        snap_index = self._mem.snapshot().meta.index
        entries = [e for e in entries if e.index > snap_index]
        if not entries:
            return
        first = entries[0].index
        if first > self._mem.last_index() + 1:
            raise StorageError(f"gap: appending {first} after last {self._mem.last_index()}")
        if first < self._plog.log_end_offset:
            self._log_conflict(entries[0])
            self._truncate_log(first)
        self._mem.append(entries)
        self._write(entries)

    def _log_conflict(self, first: Entry) -> None:
        """Say why stored entries are about to be cut: the leader sent
        `first` at an index we hold with another term (Raft's log matching:
        ours and everything after it go)."""
        last = self._mem.last_index()
        if first.index > last:
            return  # only a batch head rewritten on disk; no entry is lost
        try:
            ours = self._mem.term(first.index)
        except CompactedError:  # below the snapshot: nothing to name
            ours = None
        self._log.warning(
            "raft_log_truncated", from_index=first.index, entries_cut=last - first.index + 1,
            last_index=last, reason=f"conflict with leader at term {first.term}: our entry "
            f"{first.index} has term {ours}",
        )

    def _truncate_log(self, offset: int) -> None:
        """Drop log entries from `offset` on, keeping every entry before it:
        crash-atomic and durable when it returns (module docstring). The kept
        head of the batch holding `offset` is re-encoded from that batch as
        read from disk, so it is exactly what was stored, whatever the memory
        mirror has trimmed. The next append lands at `offset`."""
        plog = self._plog
        head = None
        if plog.log_start_offset < offset < plog.log_end_offset:
            base, _, kept = read_batch_head(plog, offset)
            if base < offset:
                head = encode_entries(kept)
        new_end = plog.truncate_to(offset, head=head)
        if new_end != offset and offset > plog.log_start_offset:
            raise StorageError(f"log truncated to {new_end}, not {offset}")

    def _write(self, entries: list[Entry]) -> None:
        """One batch per same-term run of at most batch_bytes_max (the
        common case, a Ready of one leader's entries, is one batch)."""
        if not entries:
            return
        start = 0
        term = entries[0].term
        size = 0
        limit = self._batch_bytes_max
        for k, e in enumerate(entries):
            grow = len(e.data) + ENTRY_OVERHEAD_BYTES
            if k > start and (e.term != term or size + grow > limit):
                self._write_batch(entries[start:k])
                start, term, size = k, e.term, 0
            size += grow
        self._write_batch(entries[start:])

    def _write_batch(self, run: list[Entry]) -> None:
        self._plog.append(encode_entries(run), assign_offsets=False, leader_epoch=run[0].term)

    def sync(self) -> None:
        """fsync every buffered append (one fsync for a whole Ready)."""
        self._plog.flush()

    def set_hard_state(self, hard_state: HardState) -> None:
        """Term and vote are fsynced (hard-state file) before returning. The
        commit index lives in its own file, written rename-atomically without
        fsync: a crash may bring back an older (or no) commit index, which
        Raft tolerates (commit is re-learned from the leader), and it saves
        two fsyncs per Ready on the hot path."""
        old = self._mem.hard_state
        if (old.term, old.vote) != (hard_state.term, hard_state.vote):
            blob = encode_hard_state(hard_state.term, hard_state.vote)
            atomic_write(os.path.join(self.path, HARD_STATE_NAME), blob, fs=self.fs)
        if old.commit != hard_state.commit:
            self._write_commit(hard_state.commit)
        self._mem.set_hard_state(hard_state)

    def _write_commit(self, commit: int) -> None:
        """The first write creates the file whole (rename-atomic); later ones
        overwrite its fixed-size record in place (a torn write fails the CRC
        and reads as "commit unknown", which Raft tolerates)."""
        record = encode_commit(commit)
        if self._commit_fd is None:
            file = os.path.join(self.path, COMMIT_NAME)
            atomic_write(file, record, durable=False, fs=self.fs)
            self._commit_fd = self.fs.open(file, os.O_WRONLY)
        elif self.fs.pwrite(self._commit_fd, record, 0) != len(record):
            raise StorageError("short write of the commit index")

    def _write_snapshot_file(self, snap: Snapshot) -> None:
        name = f"{SNAPSHOT_PREFIX}{snap.meta.index:020d}{SNAPSHOT_SUFFIX}"
        atomic_write(os.path.join(self.path, name), encode_snapshot(snap), fs=self.fs)

    def _remove_snapshots_before(self, index: int) -> None:
        for old, file in self._snapshot_files(self.path, self.fs):
            if old < index:
                try:
                    self.fs.remove(file)
                except FileNotFoundError:
                    pass

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Install a leader's snapshot: durable file first, then drop the log."""
        if snapshot.meta.index <= self._mem.snapshot().meta.index:
            raise StorageError(f"snapshot {snapshot.meta.index} not newer than {self._mem.snapshot().meta.index}")
        self._write_snapshot_file(snapshot)
        start = snapshot.meta.index + 1
        if start < self._plog.log_end_offset:
            self._plog.truncate_to(start)  # nothing before `start` is kept: no head to rewrite
        self._plog.delete_before(start)
        self._mem.apply_snapshot(snapshot)
        self._remove_snapshots_before(snapshot.meta.index)
        self._log.info("raft_snapshot_installed", snapshot_index=snapshot.meta.index, term=snapshot.meta.term)

    def create_snapshot(self, snapshot: Snapshot) -> None:
        self._mem.create_snapshot(snapshot)
        self._write_snapshot_file(snapshot)
        self._remove_snapshots_before(snapshot.meta.index)

    def compact(self, index: int) -> None:
        self._mem.compact(index)
        self._plog.delete_before(index + 1)

    def close(self) -> None:
        if self._commit_fd is not None:
            self.fs.close(self._commit_fd)
            self._commit_fd = None
        self._plog.close()
