"""Where partitions live on disk: `topic-N/` under one of the broker's log
dirs, and deleted topics' directories renamed aside at once
(`topic-N.<topic_id>-delete`) so a topic re-created with the same name starts
empty, then removed in the background."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rafka.log.fs import OS_FS, makedirs_durable

DELETE_SUFFIX = "-delete"


def partition_dir_name(topic: str, partition: int) -> str:
    return f"{topic}-{partition}"


class LogDirs:
    def __init__(self, dirs: list[Path]) -> None:
        assert dirs, "at least one log dir"
        self.dirs = [Path(d) for d in dirs]
        for d in self.dirs:
            # durably: a power cut must not take the log dir (and every
            # partition fsynced inside it) away (jepsen lose-unfsynced)
            makedirs_durable(OS_FS, str(d))
        self._counts = {d: sum(1 for _ in d.iterdir()) for d in self.dirs}

    def locate(self, topic: str, partition: int) -> Path:
        """The existing directory of the partition, else a new one in the
        log dir holding the fewest partitions."""
        name = partition_dir_name(topic, partition)
        for d in self.dirs:
            if (d / name).is_dir():
                return d / name
        d = min(self.dirs, key=lambda x: self._counts[x])
        self._counts[d] += 1
        return d / name

    def rename_aside(self, path: Path, topic_id: str) -> Path | None:
        """Rename a deleted partition's dir out of the way (atomic, at once)."""
        if not path.exists():
            return None
        target = path.with_name(f"{path.name}.{topic_id}{DELETE_SUFFIX}")
        os.replace(path, target)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._counts[path.parent] = max(0, self._counts.get(path.parent, 1) - 1)
        return target

    def leftover_deletes(self) -> list[Path]:
        """Renamed-aside dirs a previous run did not finish removing."""
        return [p for d in self.dirs for p in d.iterdir() if p.name.endswith(DELETE_SUFFIX)]


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
