"""render_config writes complete node.toml files ([raft] and [broker]
tables included) and `rafka quorum up`'s layout writes every setting,
keeping an operator's edits across a restart."""

from __future__ import annotations


from rafka.broker.cli.quorum_cmd import QuorumLayout
from rafka.broker.node.config import BrokerSettings, RaftSettings, load_config, render_config, settings_table


def test_render_config_writes_broker_and_raft_tables(tmp_path):
    """Goal: every [broker] and [raft] setting given to render_config is what
    `node start` reads back (no hand-appended tables needed)."""
    broker = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 300,
              "preferred_election_interval_ms": 700}
    text = render_config(
        node_id=2,
        data_dir="d",
        peer="127.0.0.1:20",
        voters={1: "127.0.0.1:19", 2: "127.0.0.1:20"},
        raft={"election_timeout_ms": 600, "heartbeat_interval_ms": 100, "tick_ms": 50},
        broker=broker,
        rack="r2",
    )
    path = tmp_path / "node.toml"
    path.write_text(text)
    cfg = load_config(path)
    assert cfg.broker == BrokerSettings(**broker)
    assert cfg.raft.election_timeout_ms == 600 and cfg.rack == "r2"


def test_quorum_layout_writes_complete_configs_and_keeps_edits(tmp_path):
    """Goal: `quorum up` writes node.toml files holding every [raft] and
    [broker] setting (the defaults), and a value edited in one survives the
    next `quorum up` on the same directory while addresses are rewritten."""
    layout = QuorumLayout(tmp_path / "data", 3, 20000)
    layout.prepare()
    for i in layout.ids:
        cfg = load_config(layout.config_path(i))
        assert cfg.raft == RaftSettings() and cfg.broker == BrokerSettings()
        text = layout.config_path(i).read_text()
        for key in [*settings_table(RaftSettings()), *settings_table(BrokerSettings())]:
            assert f"\n{key} = " in text
    path = layout.config_path(2)
    path.write_text(path.read_text().replace("session_timeout_ms = 6000", "session_timeout_ms = 9000"))
    moved = QuorumLayout(tmp_path / "data", 3, 21000)
    moved.prepare()
    cfg = load_config(path)
    assert cfg.broker.session_timeout_ms == 9000
    assert cfg.kafka_listener.port == 21001 and cfg.peer_listener.port == 21101
    assert "client" not in path.read_text()  # the msgpack client listener is retired
    assert cfg.metrics_listener.port == 21201
    assert load_config(moved.config_path(1)).broker.session_timeout_ms == 6000
