"""The broker lifecycle against the active controller on a fake quorum:
registration with retries, unfencing by heartbeat, controlled shutdown,
re-registration when the controller no longer knows the broker."""

from __future__ import annotations

import random

import trio

from rafka.broker.node.broker_lifecycle import BrokerLifecycle, LifecycleConfig
from rafka.broker.controller import requests as rq
from rafka.broker.node.metadata_services import MetadataServices
from tests.unit.test_admin_api import Cluster
from tests.unit.test_controller_service import wait_until as _wait_until


async def wait_until(pred, timeout_s: float = 20.0, what: str = "condition") -> None:
    await _wait_until(pred, timeout_s, what)


def lifecycle(c: Cluster, i: int, **cfg) -> BrokerLifecycle:
    return BrokerLifecycle(i, "127.0.0.1", 9000 + i, None, c.apis[i].route_to_controller, c.q.sms[i],
                           random.Random(i), LifecycleConfig(heartbeat_interval_ms=200, **cfg))


async def test_register_retries_until_a_leader_then_unfences(nursery, autojump_clock):
    """Goal: a broker started before any leader exists keeps retrying, then
    registers (fenced) and is unfenced by its heartbeats, from any node."""
    c = Cluster(nursery)
    lcs = {i: lifecycle(c, i) for i in (1, 2, 3)}
    for lc in lcs.values():
        await nursery.start(lc.run)
    await trio.sleep(1)  # wait-ok: time passes with no quorum; nothing may register
    assert all(lc.state == "unregistered" for lc in lcs.values())
    await c.elect(2)
    image = c.q.sms[2].image
    await wait_until(lambda: len(image.brokers) == 3 and not any(b.fenced for b in image.brokers.values()),
                     what="three unfenced brokers")
    assert all(lc.state == "registered" and not lc.fenced for lc in (await _settle(lcs)))
    # Incarnation ids differ per process start.
    assert len({b.incarnation_id for b in image.brokers.values()}) == 3


async def _settle(lcs):
    await wait_until(lambda: all(not lc.fenced for lc in lcs.values()), what="brokers see unfenced")
    return list(lcs.values())


async def test_controlled_shutdown_moves_leaderships_away(nursery, autojump_clock):
    """Goal: controlled shutdown leaves the broker leading nothing, with new
    leader epochs, before it returns; heartbeats then stop."""
    c = Cluster(nursery)
    await c.elect(1)
    lcs = {i: lifecycle(c, i) for i in (1, 2, 3)}
    for lc in lcs.values():
        await nursery.start(lc.run)
    await _settle(lcs)
    resp = await c.apis[3].handle_write(rq.CreateTopicsRequest([rq.CreatableTopic("t", 6, 3)]), None)
    assert resp.results[0].error_code == 0
    image = c.q.sms[1].image
    led = image.partitions_led_by(2)
    assert led
    epochs = {k: image.partition(*k).leader_epoch for k in led}
    assert await lcs[2].controlled_shutdown(timeout_s=5)
    assert c.q.sms[2].image.partitions_led_by(2) == frozenset()
    for k in led:
        s = image.partition(*k)
        assert s.leader not in (None, 2) and s.leader_epoch > epochs[k]
    b = image.brokers[2]
    assert b.in_controlled_shutdown and b.fenced
    beats = lcs[2].heartbeats_ok
    await trio.sleep(1)  # wait-ok: time passes; a stopped broker sends no heartbeat
    assert lcs[2].heartbeats_ok == beats and lcs[2].state == "stopped"


async def test_reregisters_when_registration_replaced(nursery, autojump_clock):
    """Goal: when the controller answers STALE_BROKER_EPOCH (it does not know
    this registration) the broker registers again and ends up current."""
    c = Cluster(nursery)
    await c.elect(1)
    lc = lifecycle(c, 2)
    await nursery.start(lc.run)
    await wait_until(lambda: lc.state == "registered" and not lc.fenced)
    first_epoch = lc.broker_epoch
    # An interloper registration (e.g. a stale process) takes the node id.
    await c.apis[1].route_to_controller(rq.BrokerRegistrationRequest(2, "other", "127.0.0.1", 9999))
    image = c.q.sms[1].image
    await wait_until(lambda: image.brokers[2].incarnation_id == lc.incarnation_id
                     and lc.broker_epoch != first_epoch and not image.brokers[2].fenced,
                     what="re-registration")


async def test_metadata_services_bundle(nursery, autojump_clock):
    """Goal: the node-facing bundle exposes disjoint client/peer tables and
    runs controller + broker so a single node registers itself."""
    c = Cluster(nursery)
    q = c.q
    services = MetadataServices(
        node_id=1, roles=("controller", "broker"), raft=q.raft(1), metadata=q.sms[1],
        forward=c._forwarder(1), advertised_host="127.0.0.1", advertised_port=9001, rack="r1",
        rng=random.Random(1),
    )
    assert "controller.BrokerHeartbeatRequest" in services.peer_types
    assert "controller.BrokerHeartbeatRequest" not in services.client_types
    q.elect(1)
    await nursery.start(services.run)
    await wait_until(lambda: 1 in q.sms[1].image.brokers and not q.sms[1].image.brokers[1].fenced,
                     what="self-registration")
    assert q.sms[1].image.brokers[1].rack == "r1"
    st = services.status()
    assert st["active_controller"] and st["broker_state"] == "registered"
    assert await services.shutdown(5)


async def test_controlled_shutdown_gives_up_at_once_without_a_controller(nursery, autojump_clock):
    """Goal: when the probe says no controller is reachable (the rest of the
    cluster is gone), controlled shutdown stops after its short grace
    period instead of retrying for its whole bound, and records why."""
    c = Cluster(nursery)
    await c.elect(1)

    def probe():
        return None if c.q.leader is not None else "no Raft leader known"

    lc = BrokerLifecycle(2, "127.0.0.1", 9002, None, c.apis[2].route_to_controller, c.q.sms[2],
                         random.Random(2), LifecycleConfig(heartbeat_interval_ms=200,
                                                          shutdown_no_controller_grace_ms=500),
                         controller_probe=probe)
    await nursery.start(lc.run)
    await wait_until(lambda: lc.state == "registered" and not lc.fenced, what="registered")
    c.q.leader = None  # the quorum is gone: every call says NOT_CONTROLLER
    with trio.fail_after(1.0):  # mock time; the shutdown's own bound is 30 s
        done = await lc.controlled_shutdown(timeout_s=30)
    assert not done and lc.state == "stopped"
    assert lc.shutdown_gave_up == "no Raft leader known"


async def test_controlled_shutdown_rides_out_a_short_leader_change(nursery, autojump_clock):
    """Goal: a leaderless moment shorter than the grace period (a normal
    election) does not make controlled shutdown give up: once a controller
    answers, leaderships move away as usual."""
    c = Cluster(nursery)
    await c.elect(1)
    no_leader_until = [0.0]

    def probe():
        return "no Raft leader known" if trio.current_time() < no_leader_until[0] else None

    lcs = {i: lifecycle(c, i) for i in (1, 3)}
    lcs[2] = BrokerLifecycle(2, "127.0.0.1", 9002, None, c.apis[2].route_to_controller, c.q.sms[2],
                             random.Random(2), LifecycleConfig(heartbeat_interval_ms=200,
                                                              shutdown_no_controller_grace_ms=500),
                             controller_probe=probe)
    for lc in lcs.values():
        await nursery.start(lc.run)
    await _settle(lcs)
    await c.apis[1].handle_write(rq.CreateTopicsRequest([rq.CreatableTopic("t", 3, 3)]), None)
    assert c.q.sms[2].image.partitions_led_by(2)
    c.q.leader = None
    no_leader_until[0] = trio.current_time() + 0.3

    async def reelect():
        await trio.sleep(0.3)  # wait-ok: the leaderless window the test stages
        await c.elect(1)

    nursery.start_soon(reelect)
    assert await lcs[2].controlled_shutdown(timeout_s=30)
    assert lcs[2].shutdown_gave_up is None
    assert c.q.sms[2].image.partitions_led_by(2) == frozenset()


def test_no_controller_reason_judges_the_raft_status():
    """Goal: the probe says "no controller" exactly when none can decide:
    no leader known; a leader hearing from no majority within an election
    timeout; a follower whose leader has been silent that long."""
    from rafka.broker.node.metadata_services import no_controller_reason
    from rafka.raft.status import PeerStatus, RaftStatus

    def leader(contacts):
        peers = {1: PeerStatus(last_contact_ticks=0)}
        peers.update({i: PeerStatus(last_contact_ticks=t) for i, t in contacts.items()})
        return RaftStatus(node_id=1, role="leader", leader_id=1, term=4, voters=[1, 2, 3], peers=peers,
                          election_timeout_ticks=10)

    assert "no Raft leader" in no_controller_reason(
        RaftStatus(node_id=1, role="pre_candidate", leader_id=None, term=4, election_timeout_ticks=10))
    assert no_controller_reason(leader({2: 3, 3: 50})) is None
    assert "1 of 3" in no_controller_reason(leader({2: 10, 3: 50}))

    def follower(silent_ticks):
        return RaftStatus(node_id=2, role="follower", leader_id=1, term=4, voters=[1, 2, 3],
                          election_timeout_ticks=10, election_elapsed=silent_ticks)

    assert no_controller_reason(follower(9)) is None
    assert "silent" in no_controller_reason(follower(10))
