"""The admin client's retry rules and the topics/brokers CLI output shapes
(no sockets: one attempt is faked)."""

from __future__ import annotations

import pytest

from rafka.broker.cli.errors import CliError
from rafka.broker.cli.brokers_cmd import broker_to_dict
from rafka.broker.cli.topics_cmd import parse_configs, render_describe
from rafka.broker.controller import requests as rq
from rafka.broker.client.admin_client import AdminClient, raise_for_result
from rafka.netproto.connection import HandshakeRefusedError, NotSentError
from rafka.netproto.errors import ErrorCode, RafkaError


def scripted(client: AdminClient, outcomes: list):
    """Replace the network attempt with scripted outcomes; records calls."""
    calls = []

    async def attempt(address, request, consistent, timeout_s):
        calls.append((address, request))
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    client._attempt = attempt
    return calls


async def test_write_retried_only_when_surely_not_done(autojump_clock):
    """Goal: NOT_CONTROLLER and not-sent errors move on to the next node;
    a timeout after sending is reported, never retried (could apply twice)."""
    client = AdminClient("127.0.0.1:1,127.0.0.1:2", timeout_s=30)
    ok = rq.DeleteTopicsResponse([rq.TopicResult("t")])
    calls = scripted(client, [RafkaError(ErrorCode.NOT_CONTROLLER), NotSentError("refused"), ok])
    result = await client.delete_topic("t")
    assert result.error_code == 0
    assert [a for a, _ in calls] == ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:1"]

    calls = scripted(client, [RafkaError(ErrorCode.REQUEST_TIMED_OUT, "maybe"), ok])
    with pytest.raises(RafkaError) as err:
        await client.delete_topic("t")
    assert err.value.code == ErrorCode.REQUEST_TIMED_OUT and len(calls) == 1


async def test_reads_retry_network_errors_and_ask_for_consistency(autojump_clock):
    """Goal: a read is retried after a lost connection, and a consistent
    read carries consistent=True in the request."""
    client = AdminClient("127.0.0.1:1", timeout_s=30)
    calls = scripted(client, [RafkaError(ErrorCode.NETWORK_EXCEPTION), rq.ListTopicsResponse(["a"])])
    assert await client.list_topics(consistent=True) == ["a"]
    assert len(calls) == 2 and calls[-1][1].consistent is True


async def test_gives_up_at_the_deadline(autojump_clock):
    """Goal: a cluster without a controller yields REQUEST_TIMED_OUT naming
    the last error, within the caller's deadline."""
    client = AdminClient("127.0.0.1:1", timeout_s=2)
    scripted(client, [RafkaError(ErrorCode.NOT_CONTROLLER, "no leader")] * 1000)
    with pytest.raises(RafkaError) as err:
        await client.create_topic("t", 1, 1)
    assert err.value.code == ErrorCode.REQUEST_TIMED_OUT and "NOT_CONTROLLER" in err.value.message


async def test_handshake_refusal_is_definite(autojump_clock):
    """Goal: an address that refused the handshake (wrong listener kind,
    cluster id, version) is never tried again; the others still are; when
    every address refused, the call fails at once with the refusal's code
    instead of retrying until the deadline."""
    refusal = HandshakeRefusedError(ErrorCode.INVALID_REQUEST,
                                    "this listener does not accept 'client' connections")
    client = AdminClient("127.0.0.1:1,127.0.0.1:2", timeout_s=30)
    ok = rq.ListTopicsResponse(["a"])
    calls = scripted(client, [refusal, RafkaError(ErrorCode.NETWORK_EXCEPTION), ok])
    assert await client.list_topics() == ["a"]
    assert [a for a, _ in calls] == ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:2"]

    calls = scripted(client, [refusal, NotSentError("down"), refusal] + [ok] * 10)
    with pytest.raises(HandshakeRefusedError) as err:
        await client.list_topics()
    assert err.value.code == ErrorCode.INVALID_REQUEST and len(calls) == 3
    assert "does not accept 'client' connections" in err.value.message


async def test_wrong_listener_fails_with_invalid_request():
    """Goal: the real handshake refusal of a peer-only listener reaches the
    admin client as INVALID_REQUEST (not NETWORK_EXCEPTION after retries)."""
    import trio

    from tests.unit.test_netproto_helpers import running_server

    async def handler(msg, ctx):
        return None

    with trio.fail_after(10):
        async with running_server(handler, kinds=frozenset({"peer"})) as port:
            client = AdminClient(f"127.0.0.1:{port}", timeout_s=5)
            with pytest.raises(RafkaError) as err:
                await client.list_topics()
    assert err.value.code == ErrorCode.INVALID_REQUEST
    assert f"127.0.0.1:{port} refused the connection" in err.value.message
    assert "does not accept 'client' connections" in err.value.message


def test_per_topic_errors_keep_their_kafka_name():
    """Goal: a per-item error code becomes the RafkaError the CLI prints."""
    with pytest.raises(RafkaError) as err:
        raise_for_result(rq.TopicResult("t", int(ErrorCode.TOPIC_ALREADY_EXISTS), "exists"))
    assert err.value.code_name == "TOPIC_ALREADY_EXISTS"


def test_config_arguments():
    """Goal: --config K=V parses; malformed or repeated keys are refused."""
    assert parse_configs(["retention.ms=10", "cleanup.policy = delete"]) == {
        "retention.ms": "10", "cleanup.policy": "delete"}
    for bad in (["novalue"], ["=1"], ["a=1", "a=2"]):
        with pytest.raises(CliError):
            parse_configs(bad)


def test_json_shapes_match_the_design():
    """Goal: describe and brokers list have DESIGN.md's keys and types."""
    part = {"partition": 1, "leader": None, "leader_epoch": 4, "replicas": [1, 2], "isr": [1],
            "log_start_offset": 0, "high_watermark": 7, "log_end_offset": None}
    d = {"name": "t", "topic_id": "id", "configs": {"retention.ms": "5"}, "partitions": [part]}
    text = render_describe(d)
    assert "Leader: none" in text and "Configs: retention.ms=5" in text
    assert "LogStart: 0  HighWatermark: 7  LogEnd: -" in text  # a figure the cluster cannot tell
    b = broker_to_dict(rq.BrokerDescription(1, "127.0.0.1", 9192, None, False))
    assert {k: b[k] for k in ("node_id", "host", "port", "rack", "fenced")} == {
        "node_id": 1, "host": "127.0.0.1", "port": 9192, "rack": None, "fenced": False}
