"""The admin adapter's retry rules, against a scripted fake ClusterClient."""

from __future__ import annotations

import pytest

from rafka.broker.controller import requests as rq
from rafka.netproto.connection import NotSentError
from rafka.netproto.errors import ErrorCode, RafkaError
from tests.jepsen.client import ClusterAdminClient, UncertainError
from tests.jepsen.workload_metadata import classify


class ScriptedClient:
    """call_node answers from a script of (addr -> outcome) steps."""

    def __init__(self, steps):
        self.addrs = [("127.0.0.1", 1), ("127.0.0.1", 2)]
        self.steps = list(steps)
        self.calls = []

    async def call_node(self, addr, msg, timeout_s):
        self.calls.append(addr[1])
        outcome = self.steps.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def ok_create(name="jt-0", code=0):
    return rq.CreateTopicsResponse([rq.TopicResult(name, code)])


async def test_moves_to_the_controller_and_sticks():
    """Goal: NOT_CONTROLLER moves the call to the next node; the next op
    starts at the node that worked."""
    fake = ScriptedClient([RafkaError(ErrorCode.NOT_CONTROLLER), ok_create(), ok_create("jt-1")])
    admin = ClusterAdminClient(fake, rq, 1.0)
    await admin.create_topic("jt-0")
    await admin.create_topic("jt-1")
    assert fake.calls == [1, 2, 2]


async def test_write_with_unknown_outcome_is_not_retried():
    """Goal: a write whose sent attempt timed out ends there as info: a
    retry could succeed while the stale attempt still applies later (seen:
    a create held by a paused node resurrected a deleted topic)."""
    for error in (RafkaError(ErrorCode.REQUEST_TIMED_OUT), RafkaError(ErrorCode.NETWORK_EXCEPTION)):
        fake = ScriptedClient([error, ok_create()])
        admin = ClusterAdminClient(fake, rq, 1.0)
        with pytest.raises(RafkaError) as err:
            await admin.create_topic("jt-0")
        assert fake.calls == [1], "the write must not be sent a second time"
        assert classify("create", err.value)[0] == "info"


async def test_definite_error_after_uncertain_read_is_uncertain():
    """Goal: reads do retry after a timed-out attempt, and a definite error
    after it is reported as uncertain."""
    fake = ScriptedClient([RafkaError(ErrorCode.REQUEST_TIMED_OUT),
                           RafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)])
    admin = ClusterAdminClient(fake, rq, 1.0)
    with pytest.raises(UncertainError):
        await admin.describe_config("jt-0", "retention.ms")
    assert fake.calls == [1, 2]


async def test_not_sent_attempts_keep_a_definite_error_definite():
    """Goal: attempts that surely were not sent do not taint the outcome."""
    fake = ScriptedClient([NotSentError("refused"),
                           ok_create(code=int(ErrorCode.INVALID_REPLICATION_FACTOR))])
    admin = ClusterAdminClient(fake, rq, 1.0)
    with pytest.raises(RafkaError) as err:
        await admin.create_topic("jt-0")
    assert not isinstance(err.value, UncertainError)
    assert classify("create", err.value) == ("fail", "INVALID_REPLICATION_FACTOR")


async def test_reads_parse_responses():
    """Goal: list and describe return names and the config value."""
    fake = ScriptedClient([rq.ListTopicsResponse(["a", "b"]),
                           rq.DescribeTopicResponse("a", "id", {"retention.ms": "7"}, [])])
    admin = ClusterAdminClient(fake, rq, 1.0)
    assert await admin.list_topics() == ["a", "b"]
    assert await admin.describe_config("a", "retention.ms") == "7"
