"""Broker lifecycle: registration, heartbeats, session-timeout fencing,
controlled shutdown, new incarnations, controller failover."""

import pytest

from rafka.broker.controller import ControllerConfig
from rafka.broker.controller import requests as rq
from rafka.broker.controller.harness import LocalController
from rafka.netproto.errors import ErrorCode, RafkaError


@pytest.fixture
def c():
    c = LocalController(ControllerConfig(session_timeout_ms=6000))
    c.add_brokers([1, 2, 3])
    return c


def test_registration_starts_fenced_and_caught_up_heartbeat_unfences():
    """Goal: a new broker is fenced until it heartbeats with a metadata
    offset at or past its registration; then it is unfenced."""
    c = LocalController()
    epoch = c.register(7)
    b = c.image.brokers[7]
    assert b.fenced and b.broker_epoch == epoch
    resp = c.heartbeat(7, metadata_offset=b.registered_offset - 1)
    assert not resp.is_caught_up and resp.is_fenced and c.image.brokers[7].fenced
    resp = c.heartbeat(7)
    assert resp.is_caught_up and not resp.is_fenced and not c.image.brokers[7].fenced


def test_lagging_broker_stays_fenced():
    """Goal: a broker further behind than broker_caught_up_lag_max is not
    unfenced."""
    c = LocalController(ControllerConfig(broker_caught_up_lag_max=2))
    c.register(1)
    for i in range(5):
        c.register(10 + i)
    resp = c.heartbeat(1, metadata_offset=c.image.brokers[1].registered_offset)
    assert not resp.is_caught_up and c.image.brokers[1].fenced


def test_same_incarnation_registration_is_idempotent(c):
    """Goal: re-sending a registration (e.g. after a lost reply) keeps the
    broker epoch and appends nothing."""
    entries = len(c.entries)
    epoch = c.image.brokers[2].broker_epoch
    assert c.register(2) == epoch
    assert len(c.entries) == entries and not c.image.brokers[2].fenced


def test_new_incarnation_gets_new_epoch_and_loses_leadership(c):
    """Goal: a restarted broker (new incarnation) gets a larger epoch,
    starts fenced, and its old leaderships move in the same entry."""
    c.create_topic("t", 6, 3)
    old = c.image.brokers[1].broker_epoch
    new = c.register(1, incarnation="restarted")
    assert new > old
    assert c.image.brokers[1].fenced
    assert c.image.partitions_led_by(1) == frozenset()
    assert all(1 not in s.isr for s in c.image.topic("t").partitions)


def test_stale_epoch_heartbeat_is_refused(c):
    """Goal: a heartbeat quoting an old broker epoch (or an unknown broker)
    gets STALE_BROKER_EPOCH."""
    with pytest.raises(RafkaError) as e:
        c.handle(rq.BrokerHeartbeatRequest(1, 999, c.image.offset))
    assert e.value.code == ErrorCode.STALE_BROKER_EPOCH
    with pytest.raises(RafkaError) as e:
        c.handle(rq.BrokerHeartbeatRequest(42, 1, c.image.offset))
    assert e.value.code == ErrorCode.STALE_BROKER_EPOCH


def test_bad_registration_is_invalid_request():
    """Goal: malformed registrations are refused with INVALID_REQUEST."""
    c = LocalController()
    for req in (rq.BrokerRegistrationRequest(1, "", "h", 1),
                rq.BrokerRegistrationRequest(1, "i", "h", 0),
                rq.BrokerRegistrationRequest(-1, "i", "h", 1)):
        with pytest.raises(RafkaError) as e:
            c.handle(req)
        assert e.value.code == ErrorCode.INVALID_REQUEST
    assert c.entries == []


def test_session_timeout_fences_only_silent_brokers(c):
    """Goal: a broker that misses heartbeats for session_timeout_ms is fenced
    by a tick; brokers that kept heartbeating are not; it is fenced once."""
    c.now_ms = 5000
    c.heartbeat(2)
    c.heartbeat(3)
    c.now_ms = 5999
    assert c.tick() == []
    c.now_ms = 6000
    c.tick()
    assert [c.image.brokers[n].fenced for n in (1, 2, 3)] == [True, False, False]
    entries = len(c.entries)
    c.now_ms = 20000
    c.heartbeat(2)
    c.heartbeat(3)
    c.tick()
    assert len(c.entries) == entries  # broker 1 is not fenced again


def test_fenced_broker_that_heartbeats_again_is_unfenced(c):
    """Goal: after a session timeout the same incarnation comes back by
    heartbeating while caught up."""
    c.now_ms = 7000
    c.heartbeat(2)
    c.heartbeat(3)
    c.tick()
    assert c.image.brokers[1].fenced
    resp = c.heartbeat(1)
    assert not resp.is_fenced and not c.image.brokers[1].fenced


def test_new_controller_gives_every_broker_a_fresh_session(c):
    """Goal: after failover the new controller does not fence brokers just
    because it never heard from them: sessions restart at activation."""
    c.now_ms = 100_000  # long after the last heartbeat
    c.controller.deactivate()
    c.controller.activate(c.image, c.now_ms)
    assert c.tick() == []
    c.now_ms += 6000
    c.tick()
    assert all(c.image.brokers[n].fenced for n in (1, 2, 3))


def test_controlled_shutdown_moves_leadership_then_fences(c):
    """Goal: controlled shutdown moves every leadership away (new epochs),
    removes the broker from ISRs, fences it, and later heartbeats are told to
    shut down without unfencing it."""
    c.create_topic("t", 6, 3)
    led = c.image.partitions_led_by(2)
    assert led
    b = c.image.brokers[2]
    resp = c.handle(rq.ControlledShutdownRequest(2, b.broker_epoch))
    assert resp.leaderless_partitions == 0
    b = c.image.brokers[2]
    assert b.fenced and b.in_controlled_shutdown
    assert c.image.partitions_led_by(2) == frozenset()
    for topic_id, p in led:
        s = c.image.partition(topic_id, p)
        assert s.leader not in (None, 2) and s.leader_epoch == 1
    assert all(2 not in s.isr for s in c.image.topic("t").partitions)
    hb = c.heartbeat(2)
    assert hb.should_shut_down and c.image.brokers[2].fenced
    # a restart (new incarnation) may come back
    c.register(2, incarnation="after-restart")
    assert not c.heartbeat(2).is_fenced


def test_controlled_shutdown_of_sole_isr_member_leaves_partition_leaderless():
    """Goal: when no other ISR member exists the partition goes leaderless
    (the response counts it) rather than electing an out-of-sync replica."""
    c = LocalController()
    c.add_brokers([1])
    c.create_topic("solo", 2, 1)
    resp = c.handle(rq.ControlledShutdownRequest(1, c.image.brokers[1].broker_epoch))
    assert resp.leaderless_partitions == 2
    assert all(s.leader is None and s.isr == (1,) for s in c.image.topic("solo").partitions)


def test_want_fence_heartbeat_fences(c):
    """Goal: a broker asking to be fenced (e.g. its disk failed) is fenced."""
    b = c.image.brokers[3]
    resp = c.handle(rq.BrokerHeartbeatRequest(3, b.broker_epoch, c.image.offset, want_fence=True))
    assert resp.is_fenced and c.image.brokers[3].fenced


def test_list_brokers_reports_fencing_and_heartbeat_age(c):
    """Goal: ListBrokers shows each broker's address, rack, fenced state and,
    on the active controller, how long ago it heartbeated."""
    c.now_ms = 2500
    c.heartbeat(3)
    c.now_ms = 3000
    resp = c.handle(rq.ListBrokersRequest())
    assert [b.node_id for b in resp.brokers] == [1, 2, 3]
    assert [b.last_heartbeat_ms_ago for b in resp.brokers] == [3000, 3000, 500]
    assert all(not b.fenced and b.port == 9000 + b.node_id for b in resp.brokers)
