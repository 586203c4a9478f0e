"""A LocalCluster whose nodes run the group coordinator with test
settings: few __consumer_offsets partitions, no initial rebalance delay,
short minimum session timeout (so killed members expire quickly)."""

from __future__ import annotations

from rafka.broker.node.config import render_config
from rafka.broker.node.meta_properties import format_dir
from rafka.broker.testing.local_cluster import TEST_BROKER, TEST_RAFT, LocalCluster

TEST_GROUP = {"offsets_topic_num_partitions": 6, "initial_rebalance_delay_ms": 0,
              "session_timeout_min_ms": 1000}


class GroupCluster(LocalCluster):
    def _write_configs(self) -> None:
        voters = {j: f"127.0.0.1:{self.peer_ports[j]}" for j in self.ids}
        for i in self.ids:
            format_dir(self.node_dir(i), i, self.cluster_id)
            (self.node_dir(i) / "node.toml").write_text(render_config(
                node_id=i, data_dir=str(self.node_dir(i)),
                peer=f"127.0.0.1:{self.peer_ports[i]}", kafka=self.kafka_address(i), voters=voters,
                raft=TEST_RAFT, broker=TEST_BROKER, group=TEST_GROUP,
            ))
