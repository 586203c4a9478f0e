"""Node config (docs/node-config.md): valid files load, bad ones raise one
ConfigError naming the field, and the CLI reports it as one line."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from rafka.broker.group.config import GroupConfig
from rafka.broker.kafka.config import KafkaListenerConfig
from rafka.broker.node.config import (
    BrokerSettings,
    ConfigError,
    HostPort,
    RaftSettings,
    load_config,
    parse_config,
    render_config,
    settings_table,
)
from rafka.broker.replica.settings import ReplicaConfig

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "node-config.md"


def doc_example() -> str:
    """The first ```toml block of docs/node-config.md."""
    text = DOC_PATH.read_text(encoding="utf-8")
    start = text.index("```toml\n") + len("```toml\n")
    return text[start : text.index("```", start)]


def base_doc(**over):
    doc = {
        "node_id": 2,
        "data_dir": "d",
        "voters": ["1@127.0.0.1:1", "2@127.0.0.1:2"],
        "listeners": {"peer": "127.0.0.1:20"},
    }
    doc.update(over)
    return doc


def test_documented_example_loads_with_paths_relative_to_the_file(tmp_path):
    """The example of docs/node-config.md (voters written under [listeners],
    as TOML scopes them) loads, and data_dir resolves against the file's folder."""
    cfg_file = tmp_path / "conf" / "node.toml"
    cfg_file.parent.mkdir()
    cfg_file.write_text(doc_example())
    cfg = load_config(cfg_file)
    assert cfg.node_id == 1
    assert cfg.data_dir == (tmp_path / "conf" / "rafka-data" / "node-1").resolve()
    assert cfg.voters == {
        1: HostPort("127.0.0.1", 9192),
        2: HostPort("127.0.0.1", 9193),
        3: HostPort("127.0.0.1", 9194),
    }
    assert cfg.kafka_listener == HostPort("127.0.0.1", 9092)
    assert cfg.metrics_listener == HostPort("127.0.0.1", 9292)
    assert cfg.rack == "r1"
    assert cfg.raft == RaftSettings() and cfg.broker == BrokerSettings()


def test_documented_tables_show_every_setting_at_its_default():
    """Goal: docs/node-config.md lists every [raft], [broker], [kafka],
    [replica] and [group] setting with the value a node really uses when the key is absent
    (a changed default or a new setting must change the doc too)."""
    doc = tomllib.loads(doc_example())
    assert doc["raft"] == settings_table(RaftSettings())
    assert doc["broker"] == settings_table(BrokerSettings())
    assert doc["kafka"] == dataclasses.asdict(KafkaListenerConfig())
    assert doc["replica"] == dataclasses.asdict(ReplicaConfig())
    assert doc["group"] == dataclasses.asdict(GroupConfig())


def test_render_config_round_trips(tmp_path):
    """What `quorum up` writes is what `node start` reads."""
    text = render_config(
        node_id=3,
        data_dir=str(tmp_path / "n3"),
        peer="127.0.0.1:9294",
        voters={1: "127.0.0.1:9292", 3: "127.0.0.1:9294"},
        raft={"election_timeout_ms": 500, "inbound_messages_max": 64},
    )
    path = tmp_path / "node.toml"
    path.write_text(text)
    cfg = load_config(path)
    assert cfg.node_id == 3 and cfg.data_dir == (tmp_path / "n3").resolve()
    assert set(cfg.voters) == {1, 3}
    assert cfg.voters[1] == HostPort("127.0.0.1", 9292) and cfg.peer_listener.port == 9294
    assert cfg.raft.election_timeout_ms == 500 and cfg.raft.inbound_messages_max == 64


@pytest.mark.parametrize(
    "over, field",
    [
        ({"node_id": 0}, "node_id"),
        ({"node_id": "1"}, "node_id"),
        ({"node_id": 2**31}, "node_id"),  # beyond Kafka's int32
        ({"node_id": 99999999999999999999}, "node_id"),
        ({"voters": ["2@127.0.0.1:2", "2147483648@127.0.0.1:3"]}, "voters"),
        ({"roles": ["zookeeper"]}, "roles"),
        ({"voters": ["1@127.0.0.1:1"]}, "voters"),  # own id missing
        ({"voters": ["x@127.0.0.1:1"]}, "voters"),
        ({"voters": ["2@127.0.0.1:2", "2@127.0.0.1:3"]}, "voters"),
        ({"voters": ["2@127.0.0.1:99999"]}, "voters"),
        ({"listeners": {"kafka": "127.0.0.1:10"}}, "listeners"),
        ({"listeners": {"peer": "nohost"}}, "listeners.peer"),
        ({"raft": {"election_timeout_ms": 100, "heartbeat_interval_ms": 100}}, "raft"),
        ({"raft": {"tick_ms": -5}}, "raft.tick_ms"),
        ({"raft": {"tick_ms": 50, "bogus": 1}}, "raft"),
        ({"broker": {"session_timeout_ms": 100, "heartbeat_interval_ms": 200}}, "broker"),
        ({"broker": {"preferred_election_interval_ms": 0}}, "broker.preferred_election_interval_ms"),
        ({"broker": {"leader_imbalance_check_interval_ms": 5000}}, "broker: leader_imbalance_check_interval_ms is now"),
        ({"raft": {"proposals_in_flight_max": 10}}, "raft: proposals_in_flight_max is now"),
        ({"surprise": 1}, "config"),
        # The retired msgpack client listener: one line saying so, not "unknown key".
        ({"listeners": {"client": "127.0.0.1:10", "peer": "127.0.0.1:20"}},
         "listeners.client: the msgpack client listener is retired"),
        ({"advertised_client": "127.0.0.1:10"}, "advertised_client: the msgpack client listener is retired"),
        ({"client_addresses": ["2@127.0.0.1:3"]}, "client_addresses: the msgpack client listener is retired"),
    ],
)
def test_bad_fields_raise_config_error_naming_the_field(tmp_path, over, field):
    """Each kind of bad input is refused with a message that names the field."""
    with pytest.raises(ConfigError) as info:
        parse_config(base_doc(**over), tmp_path)
    assert str(info.value).startswith(field)


def test_largest_int32_node_id_is_accepted(tmp_path):
    """Goal: the bound is exactly Kafka's int32 maximum, not something smaller."""
    top = 2**31 - 1
    cfg = parse_config(base_doc(node_id=top, voters=[f"{top}@127.0.0.1:2"]), tmp_path)
    assert cfg.node_id == top and set(cfg.voters) == {top}


def test_broker_only_node_need_not_be_a_voter(tmp_path):
    """An observer (broker role only) follows the quorum without being in it."""
    cfg = parse_config(base_doc(node_id=7, roles=["broker"]), tmp_path)
    assert not cfg.is_voter


def test_missing_and_invalid_files_raise_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("node_id = = 1\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)


def test_node_start_with_bad_config_is_one_line_error(tmp_path: Path):
    """`rafka node start` on a broken config exits non-zero with one line, no traceback."""
    bad = tmp_path / "node.toml"
    bad.write_text("node_id = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "rafka.broker.cli", "node", "start", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "INVALID_CONFIG" in lines[0], proc.stderr
