"""Where each node of a local quorum (`rafka quorum up`) lives, and the
locks and formatting that make DIR safe to (re)use.

Node i: DIR/node-i/ (data, logs, node.toml, node.out), Kafka port
base+i-1 (base 9092 by default, so a Kafka client's default bootstrap
works), peer port base+100+i-1 (peers, and rafka's own tools naming the
cluster id), metrics (/metrics over HTTP) base+200+i-1. DIR/.lock is held by the running `quorum
up`; a node directory held by a running node is never reformatted.
"""

from __future__ import annotations

from pathlib import Path

from rafka.broker.cli.errors import CliError
from rafka.broker.node.config import BrokerSettings, RaftSettings, render_config, settings_table
from rafka.broker.node.datadir_lock import DataDirLock, DataDirLockedError, check_unlocked
from rafka.broker.node.meta_properties import MetaPropertiesError, format_dir, new_cluster_id, read

PEER_PORT_OFFSET = 100
METRICS_PORT_OFFSET = 200
PORT_OFFSET_MAX = METRICS_PORT_OFFSET


class QuorumLayout:
    """Where node i of a local quorum lives: DIR/node-i/ (data, logs,
    node.toml, node.out), Kafka port base+i-1, peer port base+100+i-1,
    metrics (/metrics over HTTP) base+200+i-1."""

    def __init__(self, root: Path, nodes: int, base_port: int) -> None:
        self.root = root
        self.ids = list(range(1, nodes + 1))
        self.base_port = base_port

    def node_dir(self, i: int) -> Path:
        return self.root / f"node-{i}"

    def config_path(self, i: int) -> Path:
        return self.node_dir(i) / "node.toml"

    def kafka_port(self, i: int) -> int:
        return self.base_port + i - 1

    def kafka_address(self, i: int) -> str:
        return f"127.0.0.1:{self.kafka_port(i)}"

    def metrics_port(self, i: int) -> int:
        return self.base_port + METRICS_PORT_OFFSET + i - 1

    def metrics_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.metrics_port(i)}/metrics"

    def peer_port(self, i: int) -> int:
        return self.base_port + PEER_PORT_OFFSET + i - 1

    def peer_address(self, i: int) -> str:
        return f"127.0.0.1:{self.peer_port(i)}"

    def all_ports(self) -> list[int]:
        return ([self.kafka_port(i) for i in self.ids] + [self.peer_port(i) for i in self.ids]
                + [self.metrics_port(i) for i in self.ids])

    @property
    def bootstrap(self) -> str:
        """What `ready bootstrap=` prints: the Kafka addresses."""
        return ",".join(self.kafka_address(i) for i in self.ids)

    def lock_root(self) -> DataDirLock:
        """Create the root and lock it (DIR/.lock) for this `quorum up`."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return DataDirLock.acquire(self.root, what="rafka quorum up")
        except DataDirLockedError as exc:
            raise CliError(exc.code, exc.message) from None
        except OSError as exc:
            raise CliError("KAFKA_STORAGE_ERROR", f"cannot lock {self.root}: {exc}") from None

    def check_nodes_unlocked(self) -> None:
        """Refuse (DATA_DIR_LOCKED) if any node dir is held by a running
        node: formatting it or rewriting its node.toml would corrupt it."""
        for i in self.ids:
            try:
                check_unlocked(self.node_dir(i))
            except DataDirLockedError as exc:
                raise CliError(exc.code, exc.message) from None
            except OSError as exc:
                raise CliError("KAFKA_STORAGE_ERROR", f"cannot check {self.node_dir(i)}: {exc}") from None

    def shared_cluster_id(self) -> str:
        """The cluster id already on disk (all formatted nodes must agree), or a new one."""
        found: dict[int, str] = {}
        for i in self.ids:
            try:
                identity = read(self.node_dir(i)) if self.node_dir(i).is_dir() else None
            except MetaPropertiesError as exc:
                raise CliError(exc.code, exc.message) from None
            if identity is not None:
                found[i] = identity.cluster_id
        if len(set(found.values())) > 1:
            detail = ", ".join(f"node-{i}={c}" for i, c in sorted(found.items()))
            raise CliError("INCONSISTENT_CLUSTER_ID", f"{self.root} mixes clusters: {detail}")
        return next(iter(found.values())) if found else new_cluster_id()

    def prepare(self) -> str:
        """Format every node (reusing the cluster id) and write its node.toml."""
        cluster_id = self.shared_cluster_id()
        voters = {j: self.peer_address(j) for j in self.ids}
        for i in self.ids:
            try:
                format_dir(self.node_dir(i), i, cluster_id)
            except MetaPropertiesError as exc:
                raise CliError(exc.code, exc.message) from None
            raft, broker = self.kept_settings(i)
            text = render_config(
                node_id=i,
                data_dir=".",
                peer=self.peer_address(i),
                kafka=self.kafka_address(i),
                metrics=f"127.0.0.1:{self.metrics_port(i)}",
                voters=voters,
                raft=raft,
                broker=broker,
            )
            self.config_path(i).write_text(text)
        return cluster_id

    def kept_settings(self, i: int) -> tuple[dict, dict]:
        """Complete [raft] and [broker] tables for node i: the defaults,
        overridden by known keys of an existing node.toml (so an operator's
        edits survive a restart; addresses are always rewritten)."""
        import tomllib

        tables = {"raft": settings_table(RaftSettings()), "broker": settings_table(BrokerSettings())}
        try:
            old = tomllib.loads(self.config_path(i).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            old = {}
        for name, table in tables.items():
            given = old.get(name)
            if isinstance(given, dict):
                table.update({k: v for k, v in given.items() if k in table})
        return tables["raft"], tables["broker"]
