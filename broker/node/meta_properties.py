"""A data directory's identity: `meta.properties` (cluster id, node id, version).

Why: a node must never join a cluster with a directory written for another
cluster or another node — that would mix two Raft logs and break every
safety property. `rafka format` writes the identity once (fsynced, atomic
rename); `rafka node start` checks it before opening anything else.

The file uses Kafka's meta.properties layout (Java properties: `key=value`
lines, `#` comments) so operators recognise it.
"""

from __future__ import annotations

import base64
import os
import random
from dataclasses import dataclass
from pathlib import Path

from rafka.broker.node.config import NODE_ID_MAX, NODE_ID_MIN, valid_node_id

FILE_NAME = "meta.properties"
FORMAT_VERSION = 1
CLUSTER_ID_BYTES = 16


class MetaPropertiesError(Exception):
    """A directory whose identity is missing, unreadable or not ours."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class MetaProperties:
    cluster_id: str
    node_id: int
    version: int = FORMAT_VERSION

    def render(self) -> str:
        return (
            "#\n"
            "# written by rafka format; do not edit\n"
            f"cluster.id={self.cluster_id}\n"
            f"node.id={self.node_id}\n"
            f"version={self.version}\n"
        )


def new_cluster_id(rng: random.Random | None = None) -> str:
    """16 random bytes, base64url without padding (22 chars), like Kafka's Uuid.

    Like Kafka, never one that starts with '-': a command line would read
    `--cluster-id -abc...` as another option."""
    while True:
        raw = rng.randbytes(CLUSTER_ID_BYTES) if rng is not None else os.urandom(CLUSTER_ID_BYTES)
        cluster_id = _encode(raw)
        if not cluster_id.startswith("-"):
            return cluster_id


def validate_cluster_id(cluster_id: str) -> str:
    """Return cluster_id if it is base64url of exactly 16 bytes, else raise."""
    if not isinstance(cluster_id, str) or len(cluster_id) != 22:
        raise MetaPropertiesError(
            "INVALID_CLUSTER_ID",
            f"cluster id {cluster_id!r} must be 22 characters of base64url (16 bytes)",
        )
    try:
        raw = base64.urlsafe_b64decode(cluster_id + "==")
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != CLUSTER_ID_BYTES or _encode(raw) != cluster_id:
        raise MetaPropertiesError(
            "INVALID_CLUSTER_ID", f"cluster id {cluster_id!r} is not base64url of 16 bytes"
        )
    return cluster_id


def validate_node_id(node_id: object) -> int:
    """Return node_id if it is an int in 1..2**31-1 (Kafka's int32; 0 is
    Raft's "nobody"), else raise INVALID_NODE_ID."""
    if not valid_node_id(node_id):
        raise MetaPropertiesError(
            "INVALID_NODE_ID", f"node id must be an integer in {NODE_ID_MIN}..{NODE_ID_MAX}, got {node_id!r}"
        )
    return node_id  # type: ignore[return-value]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def parse(text: str, source: str = FILE_NAME) -> MetaProperties:
    """Parse the properties text; raise MetaPropertiesError on a bad file."""
    props: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise MetaPropertiesError("CORRUPT_META_PROPERTIES", f"{source}: bad line {line!r}")
        props[key.strip()] = value.strip()
    try:
        version = int(props["version"])
        node_id = int(props["node.id"])
        cluster_id = props["cluster.id"]
    except KeyError as exc:
        raise MetaPropertiesError(
            "CORRUPT_META_PROPERTIES", f"{source}: missing {exc.args[0]}"
        ) from None
    except ValueError:
        raise MetaPropertiesError(
            "CORRUPT_META_PROPERTIES", f"{source}: version and node.id must be integers"
        ) from None
    if not valid_node_id(node_id):
        raise MetaPropertiesError(
            "CORRUPT_META_PROPERTIES", f"{source}: node.id {node_id} is not in {NODE_ID_MIN}..{NODE_ID_MAX}"
        )
    if version != FORMAT_VERSION:
        raise MetaPropertiesError(
            "UNSUPPORTED_VERSION", f"{source}: format version {version} is not supported"
        )
    return MetaProperties(cluster_id=cluster_id, node_id=node_id, version=version)


def read(data_dir: str | Path) -> MetaProperties | None:
    """The directory's identity, or None when it has no meta.properties."""
    path = Path(data_dir) / FILE_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise MetaPropertiesError("CORRUPT_META_PROPERTIES", f"cannot read {path}: {exc}") from None
    return parse(text, str(path))


def _write_atomic(path: Path, text: str) -> None:
    """Write, fsync, rename over, fsync the directory: all or nothing on a crash."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def format_dir(
    data_dir: str | Path, node_id: int, cluster_id: str | None = None
) -> tuple[MetaProperties, bool]:
    """Give data_dir an identity; return (identity, written_now).

    Idempotent: a directory already formatted for the same node (and the same
    cluster, when one is given) is left as it is. A directory formatted for
    another node or cluster, or holding Raft data without an identity, is
    refused.
    """
    validate_node_id(node_id)
    if cluster_id is not None:
        validate_cluster_id(cluster_id)
    path = Path(data_dir)
    if path.exists() and not path.is_dir():
        raise MetaPropertiesError("INVALID_DATA_DIR", f"{path} exists and is not a directory")
    existing = read(path) if path.exists() else None
    if existing is not None:
        if existing.node_id != node_id:
            raise MetaPropertiesError(
                "INCONSISTENT_NODE_ID",
                f"{path} is formatted for node {existing.node_id}, not node {node_id}",
            )
        if cluster_id is not None and existing.cluster_id != cluster_id:
            raise MetaPropertiesError(
                "INCONSISTENT_CLUSTER_ID",
                f"{path} is formatted for cluster {existing.cluster_id}, not {cluster_id}",
            )
        return existing, False
    if path.exists() and (path / "metadata").exists():
        raise MetaPropertiesError(
            "INVALID_DATA_DIR", f"{path} holds metadata but no {FILE_NAME}; refusing to format"
        )
    path.mkdir(parents=True, exist_ok=True)
    identity = MetaProperties(cluster_id=cluster_id or new_cluster_id(), node_id=node_id)
    _write_atomic(path / FILE_NAME, identity.render())
    return identity, True


def check_identity(data_dir: str | Path, node_id: int) -> MetaProperties:
    """What `node start` requires: a formatted directory for this node id."""
    path = Path(data_dir)
    identity = read(path) if path.is_dir() else None
    if identity is None:
        raise MetaPropertiesError(
            "UNFORMATTED_DATA_DIR",
            f"{path} is not formatted; run: rafka format --dir {path} --node-id {node_id}",
        )
    if identity.node_id != node_id:
        raise MetaPropertiesError(
            "INCONSISTENT_NODE_ID",
            f"{path} is formatted for node {identity.node_id} but the config says node {node_id}",
        )
    return identity
