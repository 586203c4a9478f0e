"""Which topic incarnation a partition directory belongs to: Kafka's
`partition.metadata` file (KIP-516), `version: 0` and `topic_id: <id>`.

Why: directories are named by topic name (`topic-N/`). A broker that was
down while a topic was deleted and re-created under the same name finds the
old incarnation's directory on restart; without the id it would serve or
follow the old records as the new topic's. So a directory whose file names
another topic id is renamed aside (and removed like a deleted topic's), and
the partition starts empty.

The file is written crash-atomically right after the directory is created,
before any append; a directory without one (a crash in between, or a log
dir from before this file existed) holds no record of another incarnation
that matters and is adopted.
"""

from __future__ import annotations

import os
from pathlib import Path

from rafka.log.atomic import atomic_write

PARTITION_METADATA_NAME = "partition.metadata"
VERSION = 0
FILE_BYTES_MAX = 4096


class IdentityError(ValueError):
    """A partition.metadata file that cannot be read as ours."""


def format_identity(topic_id: str) -> bytes:
    return f"version: {VERSION}\ntopic_id: {topic_id}\n".encode()


def parse_identity(data: bytes) -> str:
    """The topic id of a partition.metadata file's content."""
    fields = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if fields.get("version") != str(VERSION) or not fields.get("topic_id"):
        raise IdentityError(f"not a version {VERSION} partition.metadata: {data[:80]!r}")
    return fields["topic_id"]


def read_identity(part_dir: Path) -> str | None:
    """The topic id the directory belongs to, or None when it has no file.
    Raises IdentityError for a damaged file."""
    try:
        with open(part_dir / PARTITION_METADATA_NAME, "rb") as f:
            data = f.read(FILE_BYTES_MAX)
    except FileNotFoundError:
        return None
    return parse_identity(data)


def write_identity(part_dir: Path, topic_id: str) -> None:
    atomic_write(os.fspath(part_dir / PARTITION_METADATA_NAME), format_identity(topic_id))


def stray_incarnation(part_dir: Path, topic_id: str) -> str | None:
    """The other topic id `part_dir` belongs to, or None when it is this
    topic's, unclaimed or absent. Raises IdentityError for a damaged file."""
    if not part_dir.is_dir():
        return None
    found = read_identity(part_dir)
    return found if found is not None and found != topic_id else None


def claim(part_dir: Path, topic_id: str) -> None:
    """Write the directory's file unless it already names `topic_id`."""
    if read_identity(part_dir) != topic_id:
        write_identity(part_dir, topic_id)
