"""Replica assignment: balanced over brokers and racks, deterministic."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rafka.broker.controller.assignment import assign_replicas, broker_ring
from rafka.broker.controller.harness import LocalController
from rafka.netproto.errors import ErrorCode, RafkaError


def brokers(n, racks=None):
    return [(i, None if racks is None else f"rack-{i % racks}") for i in range(1, n + 1)]


@pytest.mark.parametrize("n,rf", [(3, 3), (5, 3), (6, 2), (200, 3), (4, 1)])
def test_leaders_and_replicas_spread_evenly_without_racks(n, rf):
    """Goal: every broker gets the same number of preferred leaderships and
    replicas when the partition count is a multiple of the broker count."""
    out = assign_replicas(brokers(n), n * 10, rf)
    leaders = Counter(r[0] for r in out)
    replicas = Counter(b for r in out for b in r)
    assert set(leaders.values()) == {10}
    assert set(replicas.values()) == {10 * rf}
    assert all(len(set(r)) == rf for r in out)


def test_followers_of_one_broker_spread_over_the_others():
    """Goal: the partitions one broker leads put their followers on many
    brokers, so its failure scatters load instead of doubling one peer."""
    out = assign_replicas(brokers(6), 60, 2)
    followers = Counter(r[1] for r in out if r[0] == 1)
    assert len(followers) == 5


@pytest.mark.parametrize("n,racks,rf", [(6, 3, 3), (9, 3, 2), (200, 3, 3), (7, 4, 3), (6, 2, 3)])
def test_rack_aware_replicas_cover_distinct_racks_and_stay_balanced(n, racks, rf):
    """Goal: with racks, each partition's replicas span min(rf, racks) racks,
    leaders stay perfectly balanced and replica counts within a small band."""
    bs = brokers(n, racks)
    rack_of = dict(bs)
    out = assign_replicas(bs, n * 20, rf)
    for r in out:
        assert len({rack_of[b] for b in r}) == min(rf, racks)
        assert len(set(r)) == rf
    leaders = Counter(r[0] for r in out)
    assert set(leaders.values()) == {20}
    replicas = Counter(b for r in out for b in r)
    if n % racks == 0:  # equal racks: near-perfect balance
        assert max(replicas.values()) - min(replicas.values()) <= 2


def test_rack_alternating_ring():
    """Goal: the ring alternates racks so neighbours sit in different racks."""
    ring, racks = broker_ring([(1, "a"), (2, "a"), (3, "b"), (4, "b"), (5, "c")])
    assert ring == [1, 3, 5, 2, 4]
    ring, racks = broker_ring([(2, "a"), (1, None)])
    assert ring == [1, 2] and racks is None


@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 50), st.integers(0, 1000),
       st.sampled_from([None, 2, 3]))
def test_assignment_is_valid_and_deterministic(n, rf, count, start, racks):
    """Goal: for any inputs, replica lists have rf distinct known brokers (or
    INVALID_REPLICATION_FACTOR when rf > brokers), and the same inputs give
    the same output."""
    bs = brokers(n, racks)
    if rf > n:
        with pytest.raises(RafkaError) as e:
            assign_replicas(bs, count, rf, start)
        assert e.value.code == ErrorCode.INVALID_REPLICATION_FACTOR
        return
    out = assign_replicas(bs, count, rf, start)
    assert out == assign_replicas(bs, count, rf, start)
    assert len(out) == count
    for r in out:
        assert len(r) == rf and len(set(r)) == rf and set(r) <= {b for b, _ in bs}


def test_many_small_topics_stay_balanced_via_the_controller():
    """Goal: the controller continues the ring across topics, so 30 one-
    partition topics on 3 brokers give each broker 10 leaderships."""
    c = LocalController()
    c.add_brokers([1, 2, 3])
    for i in range(30):
        assert c.create_topic(f"t{i}", 1, 2).error_code == 0
    assert [c.image.leader_count(b) for b in (1, 2, 3)] == [10, 10, 10]
    assert [c.image.replica_count(b) for b in (1, 2, 3)] == [20, 20, 20]


def test_controller_assigns_only_eligible_brokers():
    """Goal: fenced brokers receive no new replicas."""
    c = LocalController()
    c.add_brokers([1, 2, 3])
    c.register(4)  # registered but never heartbeats: stays fenced
    c.create_topic("t", 12, 3)
    assert c.image.replica_count(4) == 0
    assert c.image.replica_count(1) == 12
