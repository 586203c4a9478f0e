"""`rafka brokers list` and `quorum status` over the Kafka listener: the
pure pieces (which listener is the leader's peer one, rendering unknown
controller fields, following the leader past a stale leaderless view)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import trio

from rafka.broker.cli.brokers_cmd import render_brokers
from rafka.broker.client import kafka_brokers, kafka_quorum


def quorum(leader_id: int, term: int, ends: dict[int, int], nodes: dict[int, list[tuple[str, int]]]):
    """A DescribeQuorum v2 response: voters with log ends (-1 unknown), and
    per node its listeners as (name, port)."""
    part = NS(leader_id=leader_id, leader_epoch=term, high_watermark=5,
              current_voters=[NS(replica_id=i, log_end_offset=e, last_fetch_timestamp=-1)
                              for i, e in sorted(ends.items())], observers=[])
    return NS(topics=[NS(partitions=[part])],
              nodes=[NS(node_id=i, listeners=[NS(name=n, host="127.0.0.1", port=p) for n, p in ls])
                     for i, ls in nodes.items()])


def test_leader_peer_address_is_the_peer_listener_of_the_leader():
    """Goal: the tool address is the leader's PEER listener, never its Kafka
    one, and None when the leader's node lists none."""
    q = quorum(2, 3, {1: 4, 2: 5}, {1: [("KAFKA", 9092), ("PEER", 9192)],
                                    2: [("KAFKA", 9093), ("PEER", 9193)]})
    assert kafka_brokers.leader_peer_address(q) == "127.0.0.1:9193"
    assert kafka_quorum._leader_address(q, 2) == "127.0.0.1:9093"
    q = quorum(2, 3, {1: 4, 2: 5}, {2: [("KAFKA", 9093)]})
    assert kafka_brokers.leader_peer_address(q) is None


def test_rows_without_controller_fields_render():
    """Goal: a broker whose controller-only fields are unknown (no active
    controller answered) renders with '-' instead of failing."""
    rows = [{"node_id": 1, "host": "h", "port": 1, "rack": None, "fenced": True,
             "in_controlled_shutdown": None, "broker_epoch": None, "last_heartbeat_ms": None}]
    line = render_brokers(rows).splitlines()[1].split()
    assert line == ["1", "h:1", "-", "fenced", "-", "-"]


async def test_quorum_status_skips_a_stale_leaderless_view(monkeypatch):
    """Goal: a removed voter that knows no leader (its stale view still lists
    itself as a voter) is not the answer: the next bootstrap address is
    asked and the leader it names answers."""
    stale = quorum(-1, 3, {1: 9, 2: -1, 3: -1, 4: -1}, {})
    follower = quorum(2, 4, {1: -1, 2: -1, 3: 10, 4: -1},
                      {2: [("KAFKA", 9093), ("PEER", 9193)]})
    leader = quorum(2, 4, {2: 10, 3: 10, 4: 10}, {2: [("KAFKA", 9093)]})
    answers = {"a:1": stale, "a:3": follower, "127.0.0.1:9093": leader}
    asked = []

    async def ask(address):
        asked.append(address)
        return "cid", answers[address]

    monkeypatch.setattr(kafka_quorum, "ask_quorum", ask)
    with trio.fail_after(5):
        st = await kafka_quorum.quorum_status(["a:1", "a:3"], 5.0)
    assert asked == ["a:1", "a:3", "127.0.0.1:9093"]
    assert st["leader_id"] == 2 and [v["node_id"] for v in st["voters"]] == [2, 3, 4]

    answers = {"a:1": stale}  # only the stale node answers: the freshest view it has
    asked.clear()
    with trio.fail_after(5):
        st = await kafka_quorum.quorum_status(["a:1"], 5.0)
    assert st["leader_id"] is None and st["term"] == 3
