"""Goal: the [group] table of node.toml reaches the coordinator's
GroupConfig (so tests and operators can set offsets_topic_num_partitions,
session bounds and the initial rebalance delay), defaults are Kafka's, and
bad values are refused with the key's name."""

from __future__ import annotations

import pytest

from rafka.broker.group.config import GroupConfig
from rafka.broker.node.config import ConfigError, load_config, render_config


def _write(tmp_path, group):
    text = render_config(node_id=1, data_dir="d", peer="127.0.0.1:20",
                         voters={1: "127.0.0.1:20"}, group=group)
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path


def test_group_table_round_trips(tmp_path):
    cfg = load_config(_write(tmp_path, {"offsets_topic_num_partitions": 3, "initial_rebalance_delay_ms": 0}))
    assert cfg.group.offsets_topic_num_partitions == 3
    assert cfg.group.initial_rebalance_delay_ms == 0
    assert cfg.group.offsets_retention_ms == 7 * 24 * 3600 * 1000


def test_defaults_are_kafkas():
    d = GroupConfig()
    assert d.offsets_topic_num_partitions == 50
    assert d.initial_rebalance_delay_ms == 3000
    assert (d.session_timeout_min_ms, d.session_timeout_max_ms) == (6000, 1_800_000)


@pytest.mark.parametrize("bad", [{"offsets_topic_num_partitions": 0}, {"members_max": -1},
                                 {"no_such_key": 1}])
def test_bad_group_values_refused(tmp_path, bad):
    with pytest.raises(ConfigError):
        load_config(_write(tmp_path, bad))
