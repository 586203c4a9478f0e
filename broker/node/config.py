"""A node's configuration: the TOML file of docs/node-config.md, validated.

Why a typed, validated config: a node that starts with a typo in its voters
table would silently form a different quorum. Every field is checked here
once, at start-up, and a bad file raises `ConfigError` naming the field, which
the CLI prints as one line.

Invariants of a `NodeConfig` returned by `load_config`/`parse_config`:
- `node_id` and every voters id is in 1..NODE_ID_MAX
  (Kafka's int32; 0 is Raft's "nobody") and, when the node is a controller, a key of
  `voters`;
- `data_dir` is absolute (a relative path is resolved against the folder of
  the config file, not the working directory);
- every timing is a positive int of milliseconds, and
  `heartbeat_interval_ms < election_timeout_ms`, `tick_ms <= heartbeat_interval_ms`.

Retired names (RETIRED_KEYS) are refused with one line that says what
replaced them, like any unknown key but clearer: the msgpack client
listener (`listeners.client`, `advertised_client`, `client_addresses`) is
gone; rafka's tools ask the peer listener, naming the cluster id.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.group.config import GroupConfig
from rafka.broker.replica.settings import ReplicaConfig

from rafka.netproto import addresses
from rafka.netproto.addresses import AddressError, HostPort

VALID_ROLES = ("controller", "broker")
# Node ids are Kafka's int32 on the wire; 0 means "no node" to Raft.
NODE_ID_MIN = 1
NODE_ID_MAX = 2**31 - 1


def valid_node_id(value: Any) -> bool:
    """Whether value is an int node id in NODE_ID_MIN..NODE_ID_MAX (no bools)."""
    return isinstance(value, int) and not isinstance(value, bool) and NODE_ID_MIN <= value <= NODE_ID_MAX


RETIRED_KEYS = {
    "listeners.client": "the msgpack client listener is retired: remove it (Kafka clients use "
                        "listeners.kafka; rafka's tools ask listeners.peer with the cluster id)",
    "advertised_client": "the msgpack client listener is retired: remove it (use advertised_kafka)",
    "client_addresses": "the msgpack client listener is retired: remove it (tools follow the "
                        "leader's peer address)",
}


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the field."""

    code = "INVALID_CONFIG"


@dataclass(frozen=True)
class RaftSettings:
    # 500 ms (randomized to [500, 1000)) keeps a leader failover under a
    # second; with heartbeats every 100 ms a follower misses five before it
    # suspects the leader, and pre-vote keeps a slow node from disrupting.
    election_timeout_ms: int = 500
    heartbeat_interval_ms: int = 100
    tick_ms: int = 50
    # Proposals waiting for commit on this node (the driver's limit).
    pending_proposals_max: int = 4096
    # Peer messages and local requests queued for the Raft loop.
    inbound_messages_max: int = 1024


@dataclass(frozen=True)
class BrokerSettings:
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    # How often the active controller moves leaderships back to preferred
    # replicas (Kafka's leader.imbalance.check.interval.seconds, 300 s
    # there). It also does so at once whenever a broker is unfenced, so this
    # is only the safety net; small clusters can afford a short one.
    preferred_election_interval_ms: int = 5000
    # A broker whose peer connections its process closed (kill -9) is
    # fenced this long after unless it heartbeats (broker/controller/config.py).
    session_lost_grace_ms: int = 1500


@dataclass(frozen=True)
class NodeConfig:
    node_id: int
    data_dir: Path
    peer_listener: HostPort
    voters: dict[int, HostPort]
    roles: tuple[str, ...] = VALID_ROLES
    rack: str | None = None
    raft: RaftSettings = field(default_factory=RaftSettings)
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    source: Path | None = None
    # The Kafka wire-protocol listener (`listeners.kafka`; none when
    # absent) and the address brokers register and Metadata returns.
    kafka_listener: HostPort | None = None
    advertised_kafka: HostPort | None = None
    kafka: KafkaListenerConfig = field(default_factory=KafkaListenerConfig)
    # Prometheus /metrics over HTTP (`listeners.metrics`; none when absent).
    metrics_listener: HostPort | None = None
    # Data partitions: the [replica] table (limits, replica.lag.time.max.ms
    # as lag_time_max_ms) and the log dirs (default DATA_DIR/data).
    replica: ReplicaConfig = field(default_factory=ReplicaConfig)
    # The group coordinator: the [group] table (offsets_topic_num_partitions,
    # session timeout bounds, initial_rebalance_delay_ms, retention, limits).
    group: GroupConfig = field(default_factory=GroupConfig)
    log_dirs: tuple[Path, ...] = ()
    # The address a broker registers: set by the node once its listeners
    # are bound (the advertised Kafka address, else the peer listener's).
    advertised_broker: HostPort | None = None

    @property
    def partition_log_dirs(self) -> list[Path]:
        return list(self.log_dirs) or [self.data_dir / "data"]

    @property
    def is_voter(self) -> bool:
        return self.node_id in self.voters


def parse_host_port(text: Any, what: str) -> HostPort:
    """Parse "host:port" (IPv6 as "[::1]:port"; port 0 lets a listener take
    any free port) with netproto.addresses' rules; ConfigError naming `what`."""
    try:
        return addresses.parse_host_port(text, what=what, port_zero_ok=True)
    except AddressError as exc:
        raise ConfigError(str(exc)) from None


def parse_id_address(text: Any, what: str) -> tuple[int, HostPort]:
    """Parse "id@host:port" as in Kafka's controller.quorum.voters."""
    if not isinstance(text, str) or "@" not in text:
        raise ConfigError(f"{what}: expected 'id@host:port', got {text!r}")
    id_text, _, address = text.partition("@")
    try:
        node_id = int(id_text)
    except ValueError:
        raise ConfigError(f"{what}: bad node id in {text!r}") from None
    if not valid_node_id(node_id):
        raise ConfigError(f"{what}: node id must be in {NODE_ID_MIN}..{NODE_ID_MAX} in {text!r}")
    return node_id, parse_host_port(address, what)


def _id_address_table(raw: Any, what: str) -> dict[int, HostPort]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ConfigError(f"{what}: expected a list of 'id@host:port' strings")
    table: dict[int, HostPort] = {}
    for item in raw:
        node_id, address = parse_id_address(item, what)
        if node_id in table:
            raise ConfigError(f"{what}: node id {node_id} listed twice")
        table[node_id] = address
    return table


def _positive_int(section: dict, key: str, default: int, what: str) -> int:
    value = section.pop(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{what}.{key}: expected a positive integer, got {value!r}")
    return value


# Settings that were renamed (one name per setting, from node.toml to the
# code that reads it): an old file gets a one-line hint, not a silent default.
RENAMED_KEYS = {
    "proposals_in_flight_max": "pending_proposals_max",
    "leader_imbalance_check_interval_ms": "preferred_election_interval_ms",
}


def _no_unknown_keys(section: dict, what: str) -> None:
    for old in sorted(set(section) & set(RENAMED_KEYS)):
        raise ConfigError(f"{what}: {old} is now called {RENAMED_KEYS[old]}")
    if section:
        names = ", ".join(sorted(section))
        raise ConfigError(f"{what}: unknown key(s): {names}")


def _raft_settings(raw: Any) -> RaftSettings:
    if not isinstance(raw, dict):
        raise ConfigError("raft: expected a table")
    raw = dict(raw)
    d = RaftSettings()
    election = _positive_int(raw, "election_timeout_ms", d.election_timeout_ms, "raft")
    heartbeat = _positive_int(raw, "heartbeat_interval_ms", d.heartbeat_interval_ms, "raft")
    tick = _positive_int(raw, "tick_ms", d.tick_ms, "raft")
    in_flight = _positive_int(raw, "pending_proposals_max", d.pending_proposals_max, "raft")
    inbound = _positive_int(raw, "inbound_messages_max", d.inbound_messages_max, "raft")
    _no_unknown_keys(raw, "raft")
    if heartbeat >= election:
        raise ConfigError("raft: heartbeat_interval_ms must be below election_timeout_ms")
    if tick > heartbeat:
        raise ConfigError("raft: tick_ms must not exceed heartbeat_interval_ms")
    return RaftSettings(election, heartbeat, tick, in_flight, inbound)


def _broker_settings(raw: Any) -> BrokerSettings:
    if not isinstance(raw, dict):
        raise ConfigError("broker: expected a table")
    raw = dict(raw)
    d = BrokerSettings()
    session = _positive_int(raw, "session_timeout_ms", d.session_timeout_ms, "broker")
    heartbeat = _positive_int(raw, "heartbeat_interval_ms", d.heartbeat_interval_ms, "broker")
    imbalance = _positive_int(
        raw, "preferred_election_interval_ms", d.preferred_election_interval_ms, "broker"
    )
    grace = _positive_int(raw, "session_lost_grace_ms", d.session_lost_grace_ms, "broker")
    _no_unknown_keys(raw, "broker")
    if heartbeat >= session:
        raise ConfigError("broker: heartbeat_interval_ms must be below session_timeout_ms")
    return BrokerSettings(session, heartbeat, imbalance, grace)


def _kafka_settings(raw: Any) -> KafkaListenerConfig:
    """The [kafka] table: the listener's limits and topic auto-creation."""
    if not isinstance(raw, dict):
        raise ConfigError("kafka: expected a table")
    raw = dict(raw)
    d = KafkaListenerConfig()
    values: dict[str, Any] = {}
    for f in fields(KafkaListenerConfig):
        if f.name == "auto_create_topics":
            value = raw.pop(f.name, d.auto_create_topics)
            if not isinstance(value, bool):
                raise ConfigError(f"kafka.auto_create_topics: expected true or false, got {value!r}")
            values[f.name] = value
        else:
            values[f.name] = _positive_int(raw, f.name, getattr(d, f.name), "kafka")
    _no_unknown_keys(raw, "kafka")
    return KafkaListenerConfig(**values)


def _replica_settings(raw: Any, base_dir: Path) -> tuple[ReplicaConfig, tuple[Path, ...]]:
    """The [replica] table: every ReplicaConfig limit (positive ints) and
    `log_dirs` (paths; relative ones against the config file's folder)."""
    if not isinstance(raw, dict):
        raise ConfigError("replica: expected a table")
    raw = dict(raw)
    dirs_raw = raw.pop("log_dirs", [])
    if not isinstance(dirs_raw, list) or not all(isinstance(d, str) and d for d in dirs_raw):
        raise ConfigError("replica.log_dirs: expected a list of paths")
    dirs = tuple(Path(d if Path(d).is_absolute() else base_dir / d).resolve() for d in dirs_raw)
    d = ReplicaConfig()
    values = {f.name: _positive_int(raw, f.name, getattr(d, f.name), "replica") for f in fields(ReplicaConfig)}
    _no_unknown_keys(raw, "replica")
    return ReplicaConfig(**values), dirs


def _group_settings(raw: Any) -> GroupConfig:
    """The [group] table: every GroupConfig field (non-negative ints;
    only initial_rebalance_delay_ms may be 0)."""
    if not isinstance(raw, dict):
        raise ConfigError("group: expected a table")
    raw = dict(raw)
    d = GroupConfig()
    values = {}
    for f in fields(GroupConfig):
        value = raw.pop(f.name, getattr(d, f.name))
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (
                value == 0 and f.name != "initial_rebalance_delay_ms"):
            raise ConfigError(f"group.{f.name}: expected a positive integer, got {value!r}")
        values[f.name] = value
    _no_unknown_keys(raw, "group")
    return GroupConfig(**values)


def parse_config(doc: dict[str, Any], base_dir: Path, source: Path | None = None) -> NodeConfig:
    """Validate a parsed TOML document; relative paths resolve against base_dir."""
    doc = dict(doc)
    listeners = doc.pop("listeners", None)
    if not isinstance(listeners, dict):
        raise ConfigError("listeners: missing table with 'peer'")
    listeners = dict(listeners)
    # In TOML, keys written after the [listeners] header belong to it, so the
    # documented layout puts voters/advertised_kafka there; accept both.
    for key in ("voters", "advertised_kafka", "advertised_client", "client_addresses"):
        if key in listeners:
            if key in doc:
                raise ConfigError(f"{key}: given both at top level and under [listeners]")
            doc[key] = listeners.pop(key)

    for key, why in RETIRED_KEYS.items():
        if (listeners if key.startswith("listeners.") else doc).get(key.rpartition(".")[2]) is not None:
            raise ConfigError(f"{key}: {why}")

    node_id = doc.pop("node_id", None)
    if not valid_node_id(node_id):
        raise ConfigError(f"node_id: expected an integer in {NODE_ID_MIN}..{NODE_ID_MAX}, got {node_id!r}")

    roles_raw = doc.pop("roles", list(VALID_ROLES))
    if not isinstance(roles_raw, list) or not roles_raw:
        raise ConfigError("roles: expected a non-empty list")
    for role in roles_raw:
        if role not in VALID_ROLES:
            raise ConfigError(f"roles: unknown role {role!r} (valid: controller, broker)")
    roles = tuple(dict.fromkeys(roles_raw))

    data_dir_raw = doc.pop("data_dir", None)
    if not isinstance(data_dir_raw, str) or not data_dir_raw:
        raise ConfigError("data_dir: expected a path")
    data_dir = Path(data_dir_raw)
    if not data_dir.is_absolute():
        data_dir = base_dir / data_dir
    data_dir = Path(data_dir).resolve()

    rack = doc.pop("rack", None)
    if rack is not None and (not isinstance(rack, str) or not rack):
        raise ConfigError("rack: expected a non-empty string")

    if "peer" not in listeners:
        raise ConfigError("listeners: 'peer' is required")
    peer = parse_host_port(listeners.pop("peer"), "listeners.peer")
    kafka_raw = listeners.pop("kafka", None)
    kafka_listener = None if kafka_raw is None else parse_host_port(kafka_raw, "listeners.kafka")
    metrics_raw = listeners.pop("metrics", None)
    metrics_listener = None if metrics_raw is None else parse_host_port(metrics_raw, "listeners.metrics")
    _no_unknown_keys(listeners, "listeners")

    if "voters" not in doc:
        raise ConfigError("voters: missing list of 'id@host:port'")
    voters = _id_address_table(doc.pop("voters"), "voters")
    if not voters:
        raise ConfigError("voters: at least one voter is required")
    if "controller" in roles and node_id not in voters:
        raise ConfigError(f"voters: a controller's own id {node_id} must be listed")

    advertised_kafka_raw = doc.pop("advertised_kafka", None)
    if advertised_kafka_raw is not None and kafka_listener is None:
        raise ConfigError("advertised_kafka: given without listeners.kafka")
    advertised_kafka = kafka_listener if advertised_kafka_raw is None else parse_host_port(
        advertised_kafka_raw, "advertised_kafka"
    )

    raft = _raft_settings(doc.pop("raft", {}))
    broker = _broker_settings(doc.pop("broker", {}))
    kafka = _kafka_settings(doc.pop("kafka", {}))
    replica, log_dirs = _replica_settings(doc.pop("replica", {}), base_dir)
    group = _group_settings(doc.pop("group", {}))
    _no_unknown_keys(doc, "config")
    return NodeConfig(
        node_id=node_id,
        data_dir=data_dir,
        peer_listener=peer,
        voters=voters,
        roles=roles,
        rack=rack,
        raft=raft,
        broker=broker,
        source=source,
        kafka_listener=kafka_listener,
        metrics_listener=metrics_listener,
        advertised_kafka=advertised_kafka,
        kafka=kafka,
        replica=replica,
        group=group,
        log_dirs=log_dirs,
    )


def load_config(path: str | Path) -> NodeConfig:
    """Read and validate a node's TOML file; ConfigError on any problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(doc, path.resolve().parent, source=path)


def _render_value(value: int | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _quote(value)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def settings_table(settings: RaftSettings | BrokerSettings) -> dict[str, int]:
    """Every field of a settings dataclass, for rendering a complete table."""
    return {f.name: getattr(settings, f.name) for f in fields(settings)}


def render_config(
    *,
    node_id: int,
    data_dir: str,
    peer: str,
    voters: dict[int, str],
    raft: dict[str, int | bool] | None = None,
    broker: dict[str, int | bool] | None = None,
    rack: str | None = None,
    roles: tuple[str, ...] = VALID_ROLES,
    kafka: str | None = None,
    metrics: str | None = None,
    replica: dict[str, int] | None = None,
    group: dict[str, int] | None = None,
) -> str:
    """Write a node.toml text (used by `rafka quorum up` and test fixtures).

    Top-level keys come before any table so they stay top-level in TOML;
    `raft` and `broker` become the [raft] and [broker] tables (omitted when
    None: the defaults apply). The text parses back with `parse_config`.
    """
    voter_list = ", ".join(_quote(f"{i}@{a}") for i, a in sorted(voters.items()))
    role_list = ", ".join(_quote(r) for r in roles)
    lines = [
        f"node_id = {node_id}",
        f"roles = [{role_list}]",
        f"data_dir = {_quote(data_dir)}",
    ]
    if rack is not None:
        lines.append(f"rack = {_quote(rack)}")
    lines.append(f"voters = [{voter_list}]")
    lines += ["", "[listeners]", f"peer = {_quote(peer)}"]
    if kafka is not None:
        lines.append(f"kafka = {_quote(kafka)}")
    if metrics is not None:
        lines.append(f"metrics = {_quote(metrics)}")
    for name, table in (("raft", raft), ("broker", broker), ("replica", replica), ("group", group)):
        if table is None:
            continue
        lines += ["", f"[{name}]"]
        lines += [f"{key} = {_render_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"
