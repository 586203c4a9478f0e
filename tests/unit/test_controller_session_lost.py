"""A broker whose peer connections closed (kill -9) is fenced after
`session_lost_grace_ms` unless it heartbeats; a silent but connected broker
keeps the full session timeout. Pure controller, injected time."""

import pytest
from structlog.testing import capture_logs

from rafka.broker.controller import ControllerConfig
from rafka.broker.controller.harness import LocalController

TIMEOUT_MS = 6000
GRACE_MS = 1500


@pytest.fixture
def c():
    c = LocalController(ControllerConfig(session_timeout_ms=TIMEOUT_MS, session_lost_grace_ms=GRACE_MS))
    c.add_brokers([1, 2, 3])
    c.create_topic("t", 6, 3)
    return c


def heartbeat_all(c, *node_ids):
    for n in node_ids:
        c.heartbeat(n)


def test_lost_connection_fences_after_the_grace_and_moves_leadership(c):
    """Goal: the connection of broker 2 closes at 1000 ms; the others keep
    heartbeating; broker 2 is still unfenced just before 1000 + grace and is
    fenced at it, its leaderships moved to others, with the reason logged."""
    led = c.image.partitions_led_by(2)
    assert led
    c.now_ms = 1000
    assert c.controller.broker_connection_lost(c.image, 2, c.now_ms)
    c.now_ms = 1000 + GRACE_MS - 1
    heartbeat_all(c, 1, 3)
    assert c.tick() == [] and not c.image.brokers[2].fenced
    c.now_ms = 1000 + GRACE_MS
    with capture_logs() as logs:
        records = c.tick()
    assert records and c.image.brokers[2].fenced
    assert not c.image.brokers[1].fenced and not c.image.brokers[3].fenced
    assert c.image.partitions_led_by(2) == frozenset()
    for topic_id, p in led:
        assert c.image.partition(topic_id, p).leader in (1, 3)
    fenced = [e for e in logs if e["event"] == "controller.broker_fenced"]
    assert len(fenced) == 1 and fenced[0]["broker"] == 2
    assert "peer connections closed, no heartbeat in the 1500 ms since" in fenced[0]["reason"]
    assert "session_lost_grace_ms 1500" in fenced[0]["reason"]


def test_heartbeat_of_the_same_epoch_cancels_the_fence(c):
    """Goal: a connection that closed while the broker lives (it heartbeats
    within the grace) does not fence it; it then keeps the full session
    timeout (fenced only after session_timeout_ms of silence)."""
    c.now_ms = 1000
    assert c.controller.broker_connection_lost(c.image, 2, c.now_ms)
    c.now_ms = 1800
    c.heartbeat(2)
    c.now_ms = 1000 + GRACE_MS * 3
    heartbeat_all(c, 1, 3)
    assert c.tick() == [] and not c.image.brokers[2].fenced
    c.now_ms = 1800 + TIMEOUT_MS - 1
    heartbeat_all(c, 1, 3)
    assert c.tick() == []
    c.now_ms = 1800 + TIMEOUT_MS
    heartbeat_all(c, 1, 3)
    assert c.tick() and c.image.brokers[2].fenced


def test_silent_but_connected_broker_keeps_the_full_session_timeout(c):
    """Goal: without a lost connection, a broker that stops heartbeating (a
    SIGSTOP, a slow machine) is fenced only at the session timeout."""
    c.now_ms = TIMEOUT_MS - 1
    heartbeat_all(c, 1, 3)
    assert c.tick() == [] and not c.image.brokers[2].fenced
    c.now_ms = TIMEOUT_MS
    c.tick()
    assert c.image.brokers[2].fenced


def test_new_incarnation_voids_the_mark(c):
    """Goal: a killed broker that restarts within the grace registers a new
    incarnation (its old leaderships move then); the lost-connection mark of
    the old epoch does not fence the new one once it is unfenced."""
    c.now_ms = 1000
    assert c.controller.broker_connection_lost(c.image, 2, c.now_ms)
    c.now_ms = 1200
    old = c.image.brokers[2].broker_epoch
    assert c.register(2, incarnation="restarted") > old
    c.heartbeat(2)
    assert not c.image.brokers[2].fenced
    c.now_ms = 1000 + GRACE_MS
    heartbeat_all(c, 1, 3)
    c.tick()
    assert not c.image.brokers[2].fenced


def test_lost_connection_of_fenced_or_unknown_broker_or_inactive_controller_is_ignored(c):
    """Goal: only an unfenced broker with a live session starts a grace; an
    inactive controller ignores the signal; a repeated signal does not
    restart the grace."""
    assert not c.controller.broker_connection_lost(c.image, 42, 0)
    c.now_ms = 10
    assert c.controller.broker_connection_lost(c.image, 3, c.now_ms)
    c.now_ms = 500
    assert not c.controller.broker_connection_lost(c.image, 3, c.now_ms)  # grace keeps its start
    c.now_ms = 10 + GRACE_MS
    heartbeat_all(c, 1, 2)
    c.tick()
    assert c.image.brokers[3].fenced
    assert not c.controller.broker_connection_lost(c.image, 3, c.now_ms)  # already fenced
    c.controller.deactivate()
    assert not c.controller.broker_connection_lost(c.image, 1, c.now_ms)


def test_new_controller_counts_the_grace_from_activation_for_disconnected_brokers(c):
    """Goal: a controller activated after the old one died (broker 2 was the
    old controller's node) gets the brokers whose connections are gone; they
    are fenced a grace after activation, the others get the full session."""
    c.now_ms = 50_000
    c.controller.deactivate()
    c.controller.activate(c.image, c.now_ms, term=2, disconnected=[2])
    c.now_ms += GRACE_MS - 1
    heartbeat_all(c, 1, 3)
    assert c.tick() == []
    c.now_ms += 1
    c.tick()
    assert c.image.brokers[2].fenced
    assert not c.image.brokers[1].fenced and not c.image.brokers[3].fenced


def test_grace_above_the_session_timeout_acts_as_the_timeout():
    """Goal: a grace longer than the session timeout never delays a fence
    past the session timeout."""
    c = LocalController(ControllerConfig(session_timeout_ms=1000, session_lost_grace_ms=5000))
    c.add_brokers([1, 2])
    assert c.controller.broker_connection_lost(c.image, 2, 0)
    c.now_ms = 999
    c.heartbeat(1)
    assert c.tick() == []
    c.now_ms = 1000
    c.heartbeat(1)
    c.tick()
    assert c.image.brokers[2].fenced


def test_grace_must_be_positive():
    with pytest.raises(ValueError):
        ControllerConfig(session_lost_grace_ms=0)
