"""Durability of a PartitionLog: the group-committed flush, the recovery
point, close.

Why a module of its own: appends and reads (log/partition_log.py) only hand
bytes to memory and the OS; making them durable is the other half of the
log's contract, with its own lock choreography (fsyncs outside `_lock`, a
truncation generation so a flush never publishes bytes cut meanwhile) and
its own file, the recovery-point checkpoint. PartitionLog inherits
`LogDurability`, so `flush()` and `close()` stay its methods at no extra
call cost.

Contract: a mixin of PartitionLog only; it uses PartitionLog's state and
helpers (`_lock`, `_flush_lock`, `_segments`, `_check_open`, `_go_offline`)
under the threading rules and invariants of log/partition_log.py.
"""

from __future__ import annotations

import os

from rafka.log.recovery import write_offset_checkpoint

RECOVERY_POINT_NAME = "recovery-point-offset-checkpoint"


class LogDurability:
    """flush/close of PartitionLog (see the module docstring)."""

    def flush(self) -> int:
        """fsync everything appended so far (group commit: one fsync covers
        every append before it); returns the offset durable up to (exclusive).
        Safe to call from a worker thread while append() runs."""
        with self._flush_lock:
            with self._lock:
                self._check_open()
                target = self._log_end_offset
                dir_dirty = self._dir_dirty
                if target <= self._flushed_offset and not dir_dirty and not self.leader_epochs.dirty:
                    return self._flushed_offset
                gen = self._truncate_gen
                work = []
                fs = self.fs
                for seg in self._segments:
                    if seg.synced_size < seg.size:
                        seg.drain()
                        work.append((seg, fs.dup(seg.fd), seg.size))
                self._dir_dirty = False
                # Epochs learned from the appends this flush covers: written
                # only after their batches are durable (log/epoch_cache.py).
                epochs = self.leader_epochs.take_pending()
            try:
                for _, fd, _ in work:
                    fs.fdatasync(fd)
                if dir_dirty:
                    fs.fsync_dir(self.dir_path)
                if epochs is not None:
                    self.leader_epochs.write_checkpoint(epochs)
            except OSError as exc:
                # After a failed fsync the kernel may have dropped the dirty
                # pages, so a retry could "succeed" without the data: stop.
                with self._lock:
                    self._go_offline(exc)
            finally:
                for _, fd, _ in work:
                    fs.close(fd)
            persist = None
            with self._lock:
                if gen == self._truncate_gen:
                    for seg, _, size in work:
                        seg.synced_size = max(seg.synced_size, size)
                        seg.park()
                    self._flushed_offset = max(self._flushed_offset, target)
                    if self._recovery_point < self._segments[-1].base_offset <= self._flushed_offset:
                        persist = self._flushed_offset
                flushed = self._flushed_offset
            if persist is not None:
                self._write_recovery_point(persist)
            return flushed

    def forget_epochs_at_end(self) -> None:
        """Drop leader epochs that start at or after the log end: they hold
        no batch. A replica that led an epoch without appending in it and
        now follows finds nothing to cut; without this its next fetched
        batches (of an older epoch) would sit under that empty epoch and the
        cache would say the older epoch ends where the empty one started
        (Kafka's truncateTo always truncates the epoch cache at the log end).
        Under `_flush_lock` so a flush in progress cannot write the old
        entries after this; the checkpoint is rewritten at once."""
        with self._flush_lock, self._lock:
            self._check_open()
            self.leader_epochs.truncate_from_end(self._log_end_offset)

    def _park_all(self) -> None:
        """Offer every idle, fsynced segment to the open-file cache (after
        an operation that wrote or fsynced through their files)."""
        if self._handles is not None:
            for seg in self._segments:
                seg.park()

    def _write_recovery_point(self, offset: int) -> None:
        write_offset_checkpoint(os.path.join(self.dir_path, RECOVERY_POINT_NAME), offset, self.fs)
        self._recovery_point = offset

    def close(self) -> None:
        """Flush, write the indexes and the recovery point, release files."""
        if self._closed:
            return
        self.flush()
        with self._flush_lock, self._lock:
            for seg in self._segments[:-1]:
                if not seg.indexes_written:
                    seg.write_indexes()
            self._write_recovery_point(self._log_end_offset)
            for seg in self._segments:
                seg.close()
            self._closed = True
            self._log.info("log_closed", log_end_offset=self._log_end_offset)
