"""`brokers list` shows each broker's last heartbeat as the active
controller saw it, whichever node answers: the controller from its memory,
any other node by asking the leader (best effort, bounded)."""

from __future__ import annotations

import json

import pytest
import trio

from rafka.broker.cli.brokers_cmd import broker_to_dict, render_brokers
from rafka.broker.controller import requests as rq
from rafka.netproto.errors import ErrorCode, RafkaError
from tests.unit.test_admin_api import Cluster


async def test_follower_answers_with_the_controllers_heartbeat_times(nursery, autojump_clock):
    """Goal: a follower's ListBrokers carries last_heartbeat_ms (ms since
    the active controller last heard from each broker), equal to the
    controller's own answer; the request crossed one hop."""
    c = Cluster(nursery)
    await c.elect(2)
    await c.add_brokers()
    await trio.sleep(1.5)  # wait-ok: mock time: the brokers' last contact is 1.5 s old
    on_follower = await c.apis[1].handle_read(rq.ListBrokersRequest(), None)
    on_leader = await c.apis[2].handle_read(rq.ListBrokersRequest(), None)
    assert [b.node_id for b in on_follower.brokers] == [1, 2, 3]
    assert all(b.last_heartbeat_ms is not None and b.last_heartbeat_ms >= 1500 for b in on_follower.brokers)
    assert on_follower == on_leader
    assert (1, 2, rq.ListBrokersRequest.TYPE) in c.forwards
    rows = [broker_to_dict(b) for b in on_follower.brokers]
    assert all(r["last_heartbeat_ms"] >= 1500 for r in json.loads(json.dumps(rows)))
    assert {"node_id", "host", "port", "rack", "fenced"} <= set(rows[0])
    text = render_brokers(rows)
    assert "LAST HEARTBEAT" in text and f"{rows[0]['last_heartbeat_ms']} ms ago" in text


async def test_heartbeat_times_are_null_when_the_controller_cannot_be_asked(nursery, autojump_clock):
    """Goal: when the leader is unreachable or never answers, a follower
    still answers ListBrokers from its own image, promptly, with
    last_heartbeat_ms null; with no leader at all it does not even try."""
    c = Cluster(nursery)
    await c.elect(2)
    await c.add_brokers()
    c.unreachable.add(2)
    resp = await c.apis[3].handle_read(rq.ListBrokersRequest(), None)
    assert [b.last_heartbeat_ms for b in resp.brokers] == [None, None, None]
    assert not any(b.fenced for b in resp.brokers)

    async def silent(dst, msg, timeout_s):
        await trio.sleep_forever()

    c.apis[3].forward = silent
    with trio.fail_after(c.apis[3].config.heartbeat_forward_timeout_ms / 1000 + 0.1):  # mock time
        resp = await c.apis[3].handle_read(rq.ListBrokersRequest(), None)
    assert [b.last_heartbeat_ms for b in resp.brokers] == [None, None, None]
    c.q.leader = None
    forwards = len(c.forwards)
    resp = await c.apis[1].handle_read(rq.ListBrokersRequest(), None)
    assert [b.last_heartbeat_ms for b in resp.brokers] == [None, None, None]
    assert len(c.forwards) == forwards


async def test_peer_list_brokers_only_on_the_active_controller(nursery, autojump_clock):
    """Goal: the heartbeat-times question on a peer listener is answered
    only by the active controller (others say NOT_CONTROLLER), so a
    follower never reports times it does not have."""
    c = Cluster(nursery)
    await c.elect(2)
    await c.add_brokers()
    with pytest.raises(RafkaError) as err:
        await c.apis[1].handle_controller_request(rq.ListBrokersRequest(), None)
    assert err.value.code == ErrorCode.NOT_CONTROLLER
    resp = await c.apis[2].handle_controller_request(rq.ListBrokersRequest(), None)
    assert all(b.last_heartbeat_ms is not None for b in resp.brokers)
