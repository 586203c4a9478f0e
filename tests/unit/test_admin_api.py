"""Admin handlers on a fake three-node quorum (no sockets): writes reach
the active controller from any node, reads come from the local image and
are linearizable with a barrier, peers never forward twice."""

from __future__ import annotations

import random

import pytest
import trio

from rafka.broker.controller.admin_api import AdminApi
from rafka.broker.metadata.messages import MetadataBarrierRequest, MetadataStatusRequest
from rafka.broker.controller import requests as rq
from rafka.broker.controller.config import ControllerConfig
from rafka.broker.controller.controller import Controller
from rafka.broker.controller.service import ControllerService, ControllerServiceConfig, Leadership
from rafka.broker.metadata.state_machine import MetadataStateMachine
from rafka.netproto.connection import NotSentError
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.raft.errors import NotLeaderError
from rafka.raft.types import Entry, EntryKind


class FakeQuorum:
    """One shared log. The leader and every non-lagging node apply an entry
    when it is proposed; a lagging node applies only at a read barrier."""

    def __init__(self, ids=(1, 2, 3)) -> None:
        self.ids = list(ids)
        self.term = 1
        self.leader: int | None = None
        self.log: list[Entry] = []
        self.sms = {i: MetadataStateMachine() for i in self.ids}
        self.applied = {i: 0 for i in self.ids}
        self.lagging: set[int] = set()

    def catch_up(self, i: int) -> None:
        while self.applied[i] < len(self.log):
            self.sms[i].apply(self.log[self.applied[i]])
            self.applied[i] += 1

    def elect(self, i: int) -> None:
        self.term += 1
        self.leader = i

    def raft(self, i: int) -> "FakeNodeRaft":
        return FakeNodeRaft(self, i)


class FakeNodeRaft:
    def __init__(self, q: FakeQuorum, node_id: int) -> None:
        self.q = q
        self.node_id = node_id

    def leadership(self) -> Leadership:
        return Leadership(self.q.leader == self.node_id, self.q.term, self.q.leader)

    async def propose(self, data: bytes, *, term: int) -> int:
        q = self.q
        if q.leader != self.node_id or term != q.term:
            raise NotLeaderError(q.leader)
        q.log.append(Entry(term, len(q.log) + 1, EntryKind.NORMAL, data))
        for i in q.ids:
            if i not in q.lagging or i == self.node_id:
                q.catch_up(i)
        await trio.sleep(0)  # wait-ok: a checkpoint, as a real append yields
        return len(q.log)

    async def read_barrier(self) -> None:
        if self.q.leader is None:
            raise NotLeaderError(None)
        await trio.sleep(0)  # wait-ok: a checkpoint, as a real barrier yields
        self.q.catch_up(self.node_id)


class Cluster:
    def __init__(self, nursery) -> None:
        self.q = FakeQuorum()
        self.services: dict[int, ControllerService] = {}
        self.apis: dict[int, AdminApi] = {}
        self.forwards: list[tuple[int, int, str]] = []
        self.unreachable: set[int] = set()
        for i in self.q.ids:
            raft = self.q.raft(i)
            controller = Controller(i, ControllerConfig(), random.Random(i))
            service = ControllerService(i, raft, self.q.sms[i], controller,
                                        ControllerServiceConfig(leadership_poll_ms=10))
            self.services[i] = service
            self.apis[i] = AdminApi(i, raft, self.q.sms[i], service, self._forwarder(i))
            nursery.start_soon(service.run)

    def _forwarder(self, src: int):
        async def forward(dst: int, msg, timeout_s: float):
            self.forwards.append((src, dst, msg.TYPE))
            if dst in self.unreachable:
                raise NotSentError(f"cannot connect to node {dst}")
            return await self.apis[dst].handle_controller_request(msg, None)

        return forward

    async def elect(self, i: int) -> None:
        self.q.elect(i)
        with trio.fail_after(5):
            while not self.services[i].is_active():
                await trio.sleep(0.01)  # wait-ok: poll a condition inside fail_after

    async def add_brokers(self, ids=(1, 2, 3)) -> None:
        api = self.apis[self.q.leader]
        for n in ids:
            resp = await api.route_to_controller(rq.BrokerRegistrationRequest(n, f"i{n}", "127.0.0.1", 9000 + n))
            await api.route_to_controller(rq.BrokerHeartbeatRequest(n, resp.broker_epoch, len(self.q.log)))


async def test_write_from_follower_is_forwarded_once(nursery, autojump_clock):
    """Goal: a create sent to a follower reaches the leader's controller in
    one hop, commits once, and the answer comes back to the client."""
    c = Cluster(nursery)
    await c.elect(2)
    await c.add_brokers()
    resp = await c.apis[1].handle_write(rq.CreateTopicsRequest([rq.CreatableTopic("t", 3, 3)]), None)
    assert resp.results[0].error_code == 0
    assert (1, 2, rq.CreateTopicsRequest.TYPE) in c.forwards
    assert all(src != 2 for src, _, _ in c.forwards)  # the leader never re-forwards
    assert c.q.sms[2].image.topic("t") is not None


async def test_same_invalid_request_on_every_node_changes_nothing(nursery, autojump_clock):
    """Goal: an invalid create sent to every node at once is rejected with
    its Kafka error everywhere and appends nothing to the log."""
    c = Cluster(nursery)
    await c.elect(3)
    await c.add_brokers()
    before = len(c.q.log)
    results = []

    async def send(i):
        resp = await c.apis[i].handle_write(rq.CreateTopicsRequest([rq.CreatableTopic("bad name!", 1, 1)]), None)
        results.append(resp.results[0].error_code)

    async with trio.open_nursery() as n:
        for i in (1, 2, 3, 1, 2, 3):
            n.start_soon(send, i)
    assert results == [ErrorCode.INVALID_TOPIC_EXCEPTION] * 6
    assert len(c.q.log) == before


async def test_no_leader_or_unreachable_leader_is_not_controller(nursery, autojump_clock):
    """Goal: without a reachable leader a write is refused with NOT_CONTROLLER
    (nothing happened, the client may retry) rather than hanging."""
    c = Cluster(nursery)
    with pytest.raises(RafkaError) as err:
        await c.apis[1].handle_write(rq.DeleteTopicsRequest(["x"]), None)
    assert err.value.code == ErrorCode.NOT_CONTROLLER
    await c.elect(2)
    c.unreachable.add(2)
    with pytest.raises(RafkaError) as err:
        await c.apis[3].handle_write(rq.DeleteTopicsRequest(["x"]), None)
    assert err.value.code == ErrorCode.NOT_CONTROLLER


async def test_peer_requests_are_never_forwarded(nursery, autojump_clock):
    """Goal: a controller request arriving on a follower's peer listener is
    refused, not forwarded again (bounded hops, no loops)."""
    c = Cluster(nursery)
    await c.elect(2)
    with pytest.raises(RafkaError) as err:
        await c.apis[1].handle_controller_request(rq.BrokerHeartbeatRequest(1, 1, 0), None)
    assert err.value.code == ErrorCode.NOT_CONTROLLER
    assert c.forwards == []


async def test_consistent_read_sees_acknowledged_write_on_lagging_node(nursery, autojump_clock):
    """Goal: a lagging follower serves a plain read from its stale image,
    but a read after the barrier sees every acknowledged write."""
    c = Cluster(nursery)
    await c.elect(1)
    await c.add_brokers()
    c.q.lagging.add(3)
    resp = await c.apis[2].handle_write(rq.CreateTopicsRequest([rq.CreatableTopic("fresh", 1, 1)]), None)
    assert resp.results[0].error_code == 0
    stale = await c.apis[3].handle_read(rq.ListTopicsRequest(), None)
    assert "fresh" not in stale.names
    barrier = await c.apis[3].handle_barrier(MetadataBarrierRequest(), None)
    assert barrier.metadata_offset == len(c.q.log)
    fresh = await c.apis[3].handle_read(rq.ListTopicsRequest(), None)
    assert "fresh" in fresh.names
    d = await c.apis[3].handle_read(rq.DescribeTopicRequest("fresh"), None)
    assert d.name == "fresh" and len(d.partitions) == 1


async def test_describe_unknown_topic(nursery, autojump_clock):
    """Goal: describing a missing topic is UNKNOWN_TOPIC_OR_PARTITION."""
    c = Cluster(nursery)
    with pytest.raises(RafkaError) as err:
        await c.apis[1].handle_read(rq.DescribeTopicRequest("nope"), None)
    assert err.value.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


async def test_consistent_read_without_leader_fails_fast(nursery, autojump_clock):
    """Goal: with no leader a barrier fails with a retriable error instead
    of serving a possibly stale image as if it were linearizable."""
    c = Cluster(nursery)
    with pytest.raises(RafkaError) as err:
        await c.apis[2].handle_barrier(MetadataBarrierRequest(), None)
    assert err.value.code == ErrorCode.LEADER_NOT_AVAILABLE


async def test_metadata_status_agrees_after_catch_up(nursery, autojump_clock):
    """Goal: every node reports the same offset and digest once it applied
    the same log, and a lagging node reports a different one before."""
    c = Cluster(nursery)
    await c.elect(1)
    await c.add_brokers()
    c.q.lagging.add(2)
    await c.apis[1].handle_write(rq.CreateTopicsRequest([rq.CreatableTopic("d", 2, 2)]), None)
    s1 = await c.apis[1].handle_status(MetadataStatusRequest(), None)
    s2 = await c.apis[2].handle_status(MetadataStatusRequest(), None)
    assert s1.is_active_controller and not s2.is_active_controller
    assert (s1.metadata_offset, s1.digest) != (s2.metadata_offset, s2.digest)
    c.q.catch_up(2)
    statuses = [await c.apis[i].handle_status(MetadataStatusRequest(), None) for i in (1, 2, 3)]
    assert len({(s.metadata_offset, s.digest) for s in statuses}) == 1
    assert statuses[0].topics == 1 and statuses[0].partitions == 2


async def test_handler_tables_cover_the_admin_messages(nursery, autojump_clock):
    """Goal: tool connections get writes, reads and status but no broker
    lifecycle messages; the peer listener gets the controller requests."""
    c = Cluster(nursery)
    client = c.apis[1].client_handlers()
    peer = c.apis[1].peer_handlers()
    assert rq.CreateTopicsRequest.TYPE in client and rq.ListBrokersRequest.TYPE in client
    assert MetadataStatusRequest.TYPE in client
    assert rq.BrokerHeartbeatRequest.TYPE not in client
    assert rq.BrokerHeartbeatRequest.TYPE in peer and rq.CreateTopicsRequest.TYPE in peer
    assert rq.ListTopicsRequest.TYPE not in peer
