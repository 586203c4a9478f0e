"""High watermark checkpoint: `replication-offset-checkpoint` per log dir.

Kafka's OffsetCheckpointFile as ReplicaManager.checkpointHighWatermarks
writes it: a version line (0), a count line, then one `topic partition
offset` line per partition hosted in that log dir. The ReplicaManager writes
it every `hw_checkpoint_interval_ms` (Kafka's
replica.high.watermark.checkpoint.interval.ms, 5 s) and on clean shutdown;
on start a partition's high watermark starts from it (capped to the log end,
floored at the log start) instead of from 0, so a restarted leader whose
followers have not fetched yet serves what was committed before.

Crash-atomic: written with log/atomic.py (temp file, fsync, rename, fsync of
the dir), so after a crash the file is the old or the new one, whole. No trio
here; the manager runs `write` in a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from rafka.log.atomic import atomic_write
from rafka.log.fs import OS_FS, FileSystem

CHECKPOINT_NAME = "replication-offset-checkpoint"
CHECKPOINT_VERSION = 0
# A bound on what we agree to parse (one line per hosted partition; a
# bigger file is damage).
CHECKPOINT_ENTRIES_MAX = 10_000_000
CHECKPOINT_BYTES_MAX = 1024 * 1024 * 1024

TopicPartition = tuple[str, int]


class CheckpointError(ValueError):
    """A damaged checkpoint file (the message says what is wrong)."""


def format_checkpoint(entries: dict[TopicPartition, int]) -> bytes:
    lines = [str(CHECKPOINT_VERSION), str(len(entries))]
    for (topic, partition), offset in sorted(entries.items()):
        if not topic or " " in topic or "\n" in topic:
            raise CheckpointError(f"topic name {topic!r} cannot be checkpointed")
        lines.append(f"{topic} {partition} {offset}")
    return ("\n".join(lines) + "\n").encode()


def parse_checkpoint(text: str) -> dict[TopicPartition, int]:
    """Decode checkpoint text; raises CheckpointError on any damage."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    try:
        if len(lines) < 2 or int(lines[0]) != CHECKPOINT_VERSION:
            raise CheckpointError("bad version line")
        count = int(lines[1])
    except ValueError as exc:
        raise CheckpointError(f"bad header: {exc}") from None
    if not 0 <= count <= CHECKPOINT_ENTRIES_MAX or len(lines) != 2 + count:
        raise CheckpointError(f"count {count} does not match {len(lines) - 2} entry lines")
    out: dict[TopicPartition, int] = {}
    for line in lines[2:]:
        parts = line.split(" ")
        if len(parts) != 3:
            raise CheckpointError(f"bad entry line {line!r}")
        try:
            partition, offset = int(parts[1]), int(parts[2])
        except ValueError:
            raise CheckpointError(f"bad entry line {line!r}") from None
        if not parts[0] or partition < 0 or offset < 0:
            raise CheckpointError(f"bad entry line {line!r}")
        out[(parts[0], partition)] = offset
    return out


def checkpoint_path(log_dir: str | os.PathLike) -> Path:
    return Path(log_dir) / CHECKPOINT_NAME


def read_checkpoint(log_dir: str | os.PathLike, fs: FileSystem = OS_FS) -> dict[TopicPartition, int]:
    """The checkpoint of `log_dir`; {} when there is none yet. Raises
    CheckpointError when it is damaged, OSError when unreadable."""
    path = os.fspath(checkpoint_path(log_dir))
    if not fs.exists(path):
        return {}
    data = fs.read_file(path, CHECKPOINT_BYTES_MAX)
    try:
        return parse_checkpoint(data.decode())
    except UnicodeDecodeError:
        raise CheckpointError("not text") from None


def write_checkpoint(log_dir: str | os.PathLike, entries: dict[TopicPartition, int],
                     fs: FileSystem = OS_FS) -> None:
    """Replace `log_dir`'s checkpoint with `entries`, crash-atomically."""
    atomic_write(checkpoint_path(log_dir), format_checkpoint(entries), fs=fs)


def group_by_dir(log_dirs: Iterable[Path], hws: Iterable[tuple[Path, str, int, int]]
                 ) -> dict[Path, dict[TopicPartition, int]]:
    """What each log dir's checkpoint holds: `hws` are (partition dir, topic,
    partition, high watermark); every log dir gets an entry (maybe empty)."""
    out: dict[Path, dict[TopicPartition, int]] = {Path(d): {} for d in log_dirs}
    for part_dir, topic, partition, hw in hws:
        out.setdefault(Path(part_dir).parent, {})[(topic, partition)] = max(0, hw)
    return out


def initial_high_watermark(checkpointed: int | None, log_start_offset: int, log_end_offset: int) -> int:
    """Kafka's rule: the checkpointed HW (0 without one), kept within
    [log start, log end]."""
    hw = 0 if checkpointed is None else checkpointed
    return min(max(hw, log_start_offset), log_end_offset)


class HighWatermarkCheckpoints:
    """The checkpoints of a broker's log dirs: loaded once on start, then
    rewritten only when their content changed (writes run in a thread)."""

    def __init__(self, log_dirs: Iterable[Path], fs: FileSystem = OS_FS) -> None:
        self.log_dirs = [Path(d) for d in log_dirs]
        self.fs = fs
        self.loaded: dict[Path, dict[TopicPartition, int]] = {}
        self._written: dict[Path, dict[TopicPartition, int]] = {}

    def load(self) -> list[tuple[Path, str]]:
        """Read every log dir's checkpoint; returns (dir, error) for damaged
        or unreadable ones (their partitions start from the log start)."""
        errors = []
        for d in self.log_dirs:
            try:
                self.loaded[d] = read_checkpoint(d, self.fs)
            except (CheckpointError, OSError) as exc:
                self.loaded[d] = {}
                errors.append((d, str(exc)))
        self._written = {d: dict(v) for d, v in self.loaded.items()}
        return errors

    def checkpointed(self, partition_dir: Path, topic: str, partition: int) -> int | None:
        """The HW loaded for this partition, handed out once: a partition
        opened again later in this run (a topic deleted and re-created under
        the same name) starts from its log start instead."""
        return self.loaded.get(Path(partition_dir).parent, {}).pop((topic, partition), None)

    def write(self, by_dir: dict[Path, dict[TopicPartition, int]], *, force: bool = False) -> int:
        """Write the dirs whose entries changed (all with `force`); returns
        how many files were written. Raises OSError (the next call retries)."""
        written = 0
        for d, entries in by_dir.items():
            if not force and self._written.get(d) == entries:
                continue
            write_checkpoint(d, entries, self.fs)
            self._written[d] = dict(entries)
            written += 1
        return written
