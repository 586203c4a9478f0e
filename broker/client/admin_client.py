"""The admin client: rafka's msgpack topic and broker requests to any node
of a cluster, over the nodes' peer listeners as a tool ("client"
connections naming the cluster id). Kafka clients and the CLI's topic
commands use the Kafka listener; this serves `quorum up`'s readiness,
`brokers list`'s controller-only fields and the test harnesses.

Why: `quorum up` and test harnesses all need the same rules for
talking to a cluster whose controller moves: try the bootstrap nodes in
turn; on an answer that promises nothing happened (NOT_CONTROLLER,
LEADER_NOT_AVAILABLE, or a request that surely never left this process)
back off and try again until the deadline; never retry a write whose outcome
is unknown (a timeout after sending), since it may have been applied.
Reads change nothing, so they are retried on any network error too.
A handshake refusal (wrong listener kind, cluster id or protocol version) is
definite: that address is not tried again, and when every bootstrap address
refused, the call fails at once with the refusal's own code.

Consistent reads: when the read request type has a `consistent` field it is
set; otherwise the client sends a MetadataBarrierRequest and then the read on
the same connection (the node answers the barrier only once its image holds
every entry committed before it, so the read that follows is linearizable).

Every call is bounded by `timeout_s`; errors are netproto's `RafkaError`
with the Kafka code (REQUEST_TIMED_OUT when the deadline passes).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import trio

from rafka.broker.metadata.messages import MetadataBarrierRequest, MetadataStatusRequest, MetadataStatusResponse
from rafka.broker.controller import requests as rq
from rafka.netproto.connection import HandshakeRefusedError, NotSentError, open_connection
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.handshake import KIND_CLIENT
from rafka.netproto import addresses
from rafka.netproto.addresses import as_addr
from rafka.netproto.schema import Message

RETRIABLE = frozenset({ErrorCode.NOT_CONTROLLER, ErrorCode.LEADER_NOT_AVAILABLE})
READ_RETRIABLE = RETRIABLE | {ErrorCode.NETWORK_EXCEPTION, ErrorCode.REQUEST_TIMED_OUT}
BACKOFF_INITIAL_S = 0.05
BACKOFF_MAX_S = 1.0
ATTEMPT_TIMEOUT_MAX_S = 10.0


def has_field(cls: type, name: str) -> bool:
    return any(f.name == name for f in dataclasses.fields(cls))


def parse_bootstrap(text: str | Sequence[str]) -> list[str]:
    """"host:port" strings (netproto.addresses rules); ValueError when bad."""
    return [str(hp) for hp in addresses.parse_bootstrap(text)]


class AdminClient:
    def __init__(self, bootstrap: str | Sequence[str], timeout_s: float = 15.0,
                 cluster_id: str | None = None) -> None:
        """`bootstrap`: peer listener addresses; a node refuses a tool whose
        `cluster_id` is not its own (or None) with INCONSISTENT_CLUSTER_ID."""
        self.bootstrap = parse_bootstrap(bootstrap)
        self.timeout_s = timeout_s
        self.cluster_id = cluster_id

    async def _attempt(self, address: str, request: Message, consistent: bool, timeout_s: float) -> Message:
        """One try at one node. Any failure before `request` itself was
        handed to the connection (connect, handshake, barrier) is raised as
        NotSentError: the request surely did not happen."""
        host, port = as_addr(address)
        sent = False
        try:
            async with open_connection(host, port, cluster_id=self.cluster_id, kind=KIND_CLIENT) as conn:
                if consistent and not has_field(type(request), "consistent"):
                    await conn.call(MetadataBarrierRequest(), timeout_s=timeout_s)
                sent = True
                return await conn.call(request, timeout_s=timeout_s)
        except RafkaError as exc:
            if sent or isinstance(exc, (NotSentError, HandshakeRefusedError)):
                raise
            raise NotSentError(f"{address}: {exc.code.name}: {exc.message}") from None

    async def call(self, request: Message, *, read: bool = False, consistent: bool = False,
                   timeout_s: float | None = None) -> Message:
        """Send `request` to the cluster, retrying where that is safe."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        if consistent and has_field(type(request), "consistent"):
            request = dataclasses.replace(request, consistent=True)
        retriable = READ_RETRIABLE if read else RETRIABLE
        last: RafkaError | None = None
        reached_any = False  # did any attempt get past connecting?
        refused: dict[str, HandshakeRefusedError] = {}  # definite: never tried again
        backoff_s = BACKOFF_INITIAL_S
        with trio.move_on_after(timeout_s):
            while True:
                for address in [a for a in self.bootstrap if a not in refused]:
                    try:
                        return await self._attempt(address, request, consistent,
                                                   min(ATTEMPT_TIMEOUT_MAX_S, timeout_s))
                    except HandshakeRefusedError as exc:
                        refused[address] = exc
                    except NotSentError as exc:
                        last = exc
                    except RafkaError as exc:
                        reached_any = True
                        if exc.code not in retriable:
                            raise
                        last = exc
                if len(refused) == len(self.bootstrap):
                    raise _all_refused(refused)
                await trio.sleep(backoff_s)
                backoff_s = min(BACKOFF_MAX_S, backoff_s * 2)
        if last is not None and not reached_any:
            # Nothing was ever sent: say so plainly (the request surely did not happen).
            raise RafkaError(ErrorCode.NETWORK_EXCEPTION,
                             f"cannot reach any of {', '.join(self.bootstrap)} within {timeout_s}s "
                             f"(last: {last.message})")
        detail = f"; last error: {last.code.name}: {last.message}" if last is not None else ""
        raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, f"{request.TYPE}: no answer within {timeout_s}s{detail}")

    # -------------------------------------------------------------- topics
    async def create_topic(self, name: str, partitions: int, replication_factor: int,
                           configs: dict[str, str] | None = None, validate_only: bool = False) -> rq.TopicResult:
        resp = await self.call(rq.CreateTopicsRequest(
            [rq.CreatableTopic(name, partitions, replication_factor, dict(configs or {}))],
            validate_only=validate_only))
        return _only_result(resp)

    async def delete_topic(self, name: str) -> rq.TopicResult:
        return _only_result(await self.call(rq.DeleteTopicsRequest([name])))

    async def create_partitions(self, name: str, count: int, validate_only: bool = False) -> rq.TopicResult:
        resp = await self.call(rq.CreatePartitionsRequest([rq.PartitionCountUpdate(name, count)],
                                                          validate_only=validate_only))
        return _only_result(resp)

    async def alter_configs(self, name: str, configs: dict[str, str | None],
                            validate_only: bool = False) -> rq.TopicResult:
        resp = await self.call(rq.AlterConfigsRequest([rq.AlterableTopicConfigs(name, dict(configs))],
                                                      validate_only=validate_only))
        return _only_result(resp)

    async def describe_topic(self, name: str, consistent: bool = False) -> rq.DescribeTopicResponse:
        return await self.call(rq.DescribeTopicRequest(name), read=True, consistent=consistent)

    async def list_topics(self, consistent: bool = False) -> list[str]:
        resp = await self.call(rq.ListTopicsRequest(), read=True, consistent=consistent)
        return list(resp.names)

    async def list_brokers(self, consistent: bool = False) -> list[rq.BrokerDescription]:
        resp = await self.call(rq.ListBrokersRequest(), read=True, consistent=consistent)
        return list(resp.brokers)

    async def metadata_status(self, address: str, timeout_s: float = 5.0) -> MetadataStatusResponse:
        """One node's own metadata offset and digest (no retry elsewhere)."""
        with trio.fail_after(timeout_s):
            resp = await self._attempt(address, MetadataStatusRequest(), False, timeout_s)
        assert isinstance(resp, MetadataStatusResponse)
        return resp


def _all_refused(refused: dict[str, HandshakeRefusedError]) -> HandshakeRefusedError:
    """One error for "every bootstrap address refused the handshake": the
    first refusal's code, every address's reason."""
    first = next(iter(refused.values()))
    if len(refused) == 1:
        [(addr, exc)] = refused.items()
        return HandshakeRefusedError(exc.code, f"{addr} refused the connection: {exc.message}")
    detail = "; ".join(f"{addr}: {exc.code.name}: {exc.message}" for addr, exc in refused.items())
    return HandshakeRefusedError(first.code, f"every bootstrap address refused the connection ({detail})")


def _only_result(resp) -> rq.TopicResult:
    results = getattr(resp, "results", None)
    if not results or len(results) != 1:
        raise RafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, f"unexpected answer {resp!r:.100}")
    return results[0]


def raise_for_result(result: rq.TopicResult) -> rq.TopicResult:
    """Turn a per-topic error into a RafkaError with its Kafka code."""
    if result.error_code:
        try:
            code = ErrorCode(result.error_code)
        except ValueError:
            code = ErrorCode.UNKNOWN_SERVER_ERROR
        raise RafkaError(code, result.error_message or code.name)
    return result

