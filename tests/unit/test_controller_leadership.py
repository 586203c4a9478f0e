"""Leader election and ISR rules on fence/unfence, unclean election,
preferred-leader election, ElectLeaders and AlterPartition, plus a
property test over random broker churn."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rafka.broker.controller import ControllerConfig
from rafka.broker.controller import requests as rq
from rafka.broker.controller.harness import LocalController
from rafka.broker.metadata import MetadataImage, records
from rafka.netproto.errors import ErrorCode, RafkaError


def cluster(n=3, **cfg):
    c = LocalController(ControllerConfig(**cfg))
    c.add_brokers(list(range(1, n + 1)))
    return c


def fence(c, node_id):
    b = c.image.brokers[node_id]
    c.handle(rq.BrokerHeartbeatRequest(node_id, b.broker_epoch, c.image.offset, want_fence=True))
    assert c.image.brokers[node_id].fenced


def parts(c, topic="t"):
    return c.image.topic(topic).partitions


def test_fencing_a_leader_elects_from_isr_with_new_epoch():
    """Goal: each partition the fenced broker led gets a new leader from the
    remaining ISR and a higher leader epoch; it leaves every ISR; partitions
    it did not lead keep their leader and epoch."""
    c = cluster()
    c.create_topic("t", 6, 3)
    before = {s.partition: s for s in parts(c)}
    fence(c, 1)
    for s in parts(c):
        old = before[s.partition]
        assert 1 not in s.isr and s.leader in s.isr and s.leader != 1
        if old.leader == 1:
            assert s.leader_epoch == old.leader_epoch + 1
            assert s.leader == next(b for b in old.replicas if b != 1)
        else:
            assert (s.leader, s.leader_epoch) == (old.leader, old.leader_epoch)


def test_fence_touches_only_the_fenced_brokers_partitions():
    """Goal: the fence path is proportional to the broker's partitions: the
    entry holds changes only for partitions listing it as a replica."""
    c = cluster(6)
    c.create_topic("t", 60, 2)
    mine = c.image.partitions_of_replica(4)
    c.now_ms = 6000
    for n in (1, 2, 3, 5, 6):
        c.heartbeat(n)
    recs = c.tick()
    changed = {(r.topic_id, r.partition) for r in recs if isinstance(r, records.PartitionChangeRecord)}
    assert changed == mine and len(mine) == 20
    assert isinstance(recs[-1], records.FenceBrokerRecord) and recs[-1].node_id == 4


def test_last_isr_member_fenced_leaves_partition_leaderless_then_returns():
    """Goal: fencing the only ISR member makes the partition leaderless with
    the ISR kept; when that broker returns it leads again with a new epoch."""
    c = cluster()
    c.create_topic("t", 1, 2)
    s = parts(c)[0]
    a, b = s.replicas
    fence(c, b)
    fence(c, a)
    s = parts(c)[0]
    assert s.leader is None and s.isr == (a,) and s.leader_epoch == 1
    c.heartbeat(b)  # the out-of-sync replica comes back first: not elected
    s = parts(c)[0]
    assert s.leader is None and s.isr == (a,)
    c.tick()
    assert parts(c)[0].leader is None
    c.heartbeat(a)
    s = parts(c)[0]
    assert s.leader == a and s.leader_epoch == 2
    assert s.isr == (a, b)  # b re-joins now that the partition has a leader


def test_unclean_election_only_when_the_topic_allows_it():
    """Goal: an out-of-sync replica is elected only once
    unclean.leader.election.enable=true; the ISR restarts as just it."""
    c = cluster()
    c.create_topic("t", 1, 2)
    a, b = parts(c)[0].replicas
    fence(c, b)
    fence(c, a)
    c.heartbeat(b)
    c.tick()
    assert parts(c)[0].leader is None
    c.handle(rq.AlterConfigsRequest([rq.AlterableTopicConfigs("t", {"unclean.leader.election.enable": "true"})]))
    c.tick()
    s = parts(c)[0]
    assert s.leader == b and s.isr == (b,) and s.leader_epoch == 2


def test_unclean_topic_elects_at_fence_time():
    """Goal: with unclean election enabled, fencing the last ISR member
    directly elects an eligible out-of-sync replica."""
    c = cluster()
    c.create_topic("t", 1, 2, {"unclean.leader.election.enable": "true"})
    a, b = parts(c)[0].replicas
    fence(c, b)
    c.heartbeat(b)  # b back; rejoins ISR (leader a exists)
    assert parts(c)[0].isr == (a, b)
    c2 = cluster()
    c2.create_topic("t", 1, 2, {"unclean.leader.election.enable": "true"})
    a, b = parts(c2)[0].replicas
    c2.handle(rq.AlterPartitionRequest(a, c2.image.brokers[a].broker_epoch, "t", 0, 0, 0, [a]))
    fence(c2, a)
    s = parts(c2)[0]
    assert s.leader == b and s.isr == (b,)


def test_preferred_leader_is_restored_periodically():
    """Goal: after a broker returns, the periodic preferred-leader election
    moves leadership back to it (new epoch), and only when due."""
    c = cluster(preferred_election_interval_ms=30_000)
    c.create_topic("t", 6, 3)
    preferred = {s.partition: s.replicas[0] for s in parts(c)}
    fence(c, 1)
    c.heartbeat(1)
    assert c.image.imbalanced()
    c.now_ms = 29_000
    for n in (1, 2, 3):
        c.heartbeat(n)
    assert c.tick() == []
    c.now_ms = 30_000
    recs = c.tick()
    assert recs and not c.image.imbalanced()
    assert all(s.leader == preferred[s.partition] for s in parts(c))


def test_elect_leaders_request_preferred_and_errors():
    """Goal: ElectLeaders answers per partition: success moves the leader,
    ELECTION_NOT_NEEDED / PREFERRED_LEADER_NOT_AVAILABLE /
    UNKNOWN_TOPIC_OR_PARTITION change nothing."""
    c = cluster()
    c.create_topic("t", 3, 3)
    fence(c, 1)
    moved = [s.partition for s in parts(c) if s.replicas[0] == 1]
    tps = [rq.TopicPartition("t", p) for p in range(3)] + [rq.TopicPartition("t", 9)]
    resp = c.handle(rq.ElectLeadersRequest("preferred", tps))
    codes = {r.partition: r.error_code for r in resp.results}
    assert codes[9] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    for p in range(3):
        want = ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE if p in moved else ErrorCode.ELECTION_NOT_NEEDED
        assert codes[p] == want
    c.heartbeat(1)
    resp = c.handle(rq.ElectLeadersRequest("preferred", None))
    assert sorted(r.partition for r in resp.results) == moved
    assert all(s.leader == s.replicas[0] for s in parts(c))
    with pytest.raises(RafkaError):
        c.handle(rq.ElectLeadersRequest("sideways", None))


def test_elect_leaders_unclean_forces_an_out_of_sync_leader():
    """Goal: an operator's unclean election picks an eligible replica for a
    leaderless partition even without the topic config."""
    c = cluster()
    c.create_topic("t", 1, 2)
    a, b = parts(c)[0].replicas
    fence(c, b)
    fence(c, a)
    c.heartbeat(b)
    resp = c.handle(rq.ElectLeadersRequest("unclean", [rq.TopicPartition("t", 0)]))
    assert resp.results[0].error_code == 0
    assert parts(c)[0].leader == b


def test_alter_partition_shrinks_and_expands_isr_with_epoch_fencing():
    """Goal: the leader may shrink/expand the ISR quoting current epochs; a
    stale epoch, a non-leader, or an ineligible new member is refused."""
    c = cluster()
    c.create_topic("t", 1, 3)
    s = parts(c)[0]
    leader, f1, f2 = s.replicas
    ep = lambda n: c.image.brokers[n].broker_epoch
    resp = c.handle(rq.AlterPartitionRequest(leader, ep(leader), "t", 0, 0, 0, [leader, f1]))
    assert resp.isr == [leader, f1] and resp.partition_epoch == 1
    assert parts(c)[0].isr == (leader, f1)
    cases = [
        (rq.AlterPartitionRequest(leader, ep(leader), "t", 0, 0, 0, [leader]), ErrorCode.INVALID_REQUEST),
        (rq.AlterPartitionRequest(leader, ep(leader), "t", 0, 5, 1, [leader]), ErrorCode.FENCED_LEADER_EPOCH),
        (rq.AlterPartitionRequest(f1, ep(f1), "t", 0, 0, 1, [f1]), ErrorCode.NOT_LEADER_OR_FOLLOWER),
        (rq.AlterPartitionRequest(leader, 999, "t", 0, 0, 1, [leader]), ErrorCode.STALE_BROKER_EPOCH),
        (rq.AlterPartitionRequest(leader, ep(leader), "t", 0, 0, 1, [f1]), ErrorCode.INVALID_REQUEST),
        (rq.AlterPartitionRequest(leader, ep(leader), "t", 3, 0, 1, [leader]), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
    ]
    for req, code in cases:
        with pytest.raises(RafkaError) as e:
            c.handle(req)
        assert e.value.code == code, req
    fence(c, f2)
    with pytest.raises(RafkaError):
        c.handle(rq.AlterPartitionRequest(leader, ep(leader), "t", 0, 0, 2, [leader, f1, f2]))


# --------------------------------------------------------------- property
def check_invariants(image: MetadataImage) -> None:
    by_replica, by_leader, leaderless, imbalanced = {}, {}, set(), set()
    for t in image.topics_by_id.values():
        for s in t.partitions:
            key = (s.topic_id, s.partition)
            assert s.isr and set(s.isr) <= set(s.replicas)
            if s.leader is None:
                leaderless.add(key)
                # leaderless only when no ISR member is eligible
                assert not any(image.is_eligible(b) for b in s.isr)
            else:
                assert s.leader in s.isr and image.is_eligible(s.leader)
                # rejoin_isr_on_unfence: every eligible replica is in sync
                assert {b for b in s.replicas if image.is_eligible(b)} <= set(s.isr)
                by_leader.setdefault(s.leader, set()).add(key)
                if s.leader != s.replicas[0]:
                    imbalanced.add(key)
            for b in s.replicas:
                by_replica.setdefault(b, set()).add(key)
    for b in image.brokers:
        assert image.partitions_of_replica(b) == by_replica.get(b, set())
        assert image.partitions_led_by(b) == by_leader.get(b, set())
    assert image.leaderless() == leaderless
    assert image.imbalanced() == imbalanced


ops = st.lists(
    st.tuples(st.sampled_from(["fence", "unfence", "shutdown", "restart", "create", "tick", "delete"]),
              st.integers(1, 5)),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_random_churn_keeps_invariants_and_replicas_agree(steps):
    """Goal: under any sequence of fences, returns, shutdowns, restarts,
    topic changes and ticks: leaders are eligible ISR members, ISRs are never
    empty, a partition is leaderless only when no ISR member is eligible,
    indexes match a brute-force recount, and a replayed log and a snapshot
    give the same digest."""
    c = cluster(5, preferred_election_interval_ms=1)
    c.create_topic("t", 8, 3)
    for i, (op, n) in enumerate(steps):
        b = c.image.brokers[n]
        if op == "fence" and not b.fenced:
            fence(c, n)
        elif op == "unfence" and not b.in_controlled_shutdown:
            c.heartbeat(n)
        elif op == "shutdown":
            c.handle(rq.ControlledShutdownRequest(n, b.broker_epoch))
        elif op == "restart":
            c.register(n, incarnation=f"r{i}")
            c.heartbeat(n)
        elif op == "create":
            c.create_topic(f"x{i}", n, min(n, 3))
        elif op == "delete":
            c.handle(rq.DeleteTopicsRequest([f"x{i - 1}"]))
        else:
            c.now_ms += 1
            c.tick()
        c.tick()  # leaderless safety net runs after every change
        check_invariants(c.image)
    assert c.replay().digest() == c.image.digest()
    assert MetadataImage.from_snapshot(c.image.to_snapshot()).digest() == c.image.digest()
