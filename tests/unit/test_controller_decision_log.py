"""The active controller's log tells what it decided and why: broker
fencing with the session age, topic creation, each partition's leader/ISR
move with the Raft term, bounded for decisions touching many partitions."""

from __future__ import annotations

from structlog.testing import capture_logs

from rafka.broker.controller import ControllerConfig
from rafka.broker.controller import requests as rq
from rafka.broker.controller.harness import LocalController

TERM = 7


def events(logs, name):
    return [e for e in logs if e["event"] == name]


def cluster(**cfg) -> LocalController:
    c = LocalController(ControllerConfig(session_timeout_ms=6000, **cfg), term=TERM)
    c.add_brokers([1, 2, 3])
    return c


def test_session_timeout_fence_logs_broker_reason_and_partition_moves():
    """Goal: after a broker dies, the controller's log names it, says its
    session timed out and how long ago it last heartbeat, and shows each of
    its partitions' leader and ISR change with the new leader epoch and the
    term, e.g. `orders-1 leader 2->3 isr [2,3,1]->[3,1]`."""
    c = cluster()
    with capture_logs() as logs:
        c.create_topic("orders", 3, 3)
    [created] = events(logs, "controller.topic_created")
    assert created["topic"] == "orders" and created["partitions"] == 3
    assert created["replication_factor"] == 3 and created["term"] == TERM
    led_by_2 = sorted(p for (_, p) in c.image.partitions_led_by(2))
    assert led_by_2
    c.now_ms = 5000
    c.heartbeat(1)
    c.heartbeat(3)
    c.now_ms = 6500
    with capture_logs() as logs:
        c.tick()
    [fenced] = events(logs, "controller.broker_fenced")
    assert fenced["broker"] == 2 and fenced["term"] == TERM and fenced["node_id"] == 1
    assert "session timed out: last heartbeat 6500 ms ago" in fenced["reason"]
    changes = {e["partition"]: e for e in events(logs, "controller.partition_changed")}
    assert set(changes) == {f"orders-{p}" for p in range(3)}  # 2 leaves every ISR
    for p in led_by_2:
        e = changes[f"orders-{p}"]
        s = c.image.topic("orders").partitions[p]
        assert e["leader"] == f"2->{s.leader}" and e["leader_epoch"] == s.leader_epoch == 1
        assert e["isr"].endswith("->[" + ",".join(map(str, s.isr)) + "]") and "2" not in e["isr"].split("->")[1]
        assert e["reason"] == "broker 2 fenced: session timed out" and e["term"] == TERM


def test_unfence_and_registration_say_why():
    """Goal: a restarted broker's registration names the epoch it replaces;
    its unfence says it caught up, with its metadata offset."""
    c = cluster()
    with capture_logs() as logs:
        c.register(2, incarnation="second")
    [reg] = events(logs, "controller.broker_registered")
    assert reg["broker"] == 2 and reg["replaced_broker_epoch"] == 2 and "restarted" in reg["reason"]
    with capture_logs() as logs:
        c.heartbeat(2)
    [unfenced] = events(logs, "controller.broker_unfenced")
    assert unfenced["broker"] == 2 and unfenced["reason"].startswith("broker 2 unfenced: caught up to metadata offset")


def test_topic_delete_alter_and_rejections_are_logged():
    """Goal: deletes and config changes name the topic; refused items are
    logged with their Kafka error."""
    c = cluster()
    c.create_topic("t", 2, 1)
    with capture_logs() as logs:
        c.handle(rq.AlterConfigsRequest([rq.AlterableTopicConfigs("t", {"retention.ms": "1000"})]))
        c.handle(rq.DeleteTopicsRequest(["t", "nope"]))
    [alt] = events(logs, "controller.topic_config_altered")
    assert alt["topic"] == "t" and alt["key"] == "retention.ms" and alt["value"] == "None->1000"
    [deleted] = events(logs, "controller.topic_deleted")
    assert deleted["topic"] == "t" and deleted["partitions"] == 2
    [rejected] = events(logs, "controller.request_rejected")
    assert rejected["item"] == "nope" and rejected["error"] == "UNKNOWN_TOPIC_OR_PARTITION"


def test_a_fence_touching_many_partitions_is_bounded_at_info():
    """Goal: fencing a broker in 60 partitions writes at most
    decision_log_partitions_max info lines of partition changes plus one
    summary with the total; the rest are debug lines."""
    c = cluster(decision_log_partitions_max=5)
    c.create_topic("big", 60, 3)
    with capture_logs() as logs:
        c.handle(rq.ControlledShutdownRequest(1, c.image.brokers[1].broker_epoch))
    changes = events(logs, "controller.partition_changed")
    info = [e for e in changes if e["log_level"] == "info"]
    assert len(info) == 5 and len(changes) == 60
    [summary] = events(logs, "controller.partition_changes")
    assert summary["changed"] == 60 and summary["logged"] == 5
    assert summary["reason"] == "broker 1 controlled shutdown"
