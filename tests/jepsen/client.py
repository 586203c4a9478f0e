"""Adapters from the harness to the node's tool API (its peer listener, as a
"client" connection naming the cluster id).

Why a seam here: the workload and the nemesis driver speak a tiny protocol
(`AdminClient` in workload_metadata.py, `node_status` below); this module is
the only place that knows the wire messages, so a change in the node's API
touches one file.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import trio

from rafka.netproto.errors import ErrorCode, RafkaError


async def node_status(host: str, port: int, cluster_id: str | None,
                      timeout_s: float) -> dict | None:
    """A node's QuorumStatus as a dict, or None when it does not answer in
    time (paused, dead, or partitioned from us)."""
    from rafka.broker.node.messages import QuorumStatusRequest
    from rafka.broker.node.status import status_to_dict
    from rafka.netproto.connection import open_connection
    from rafka.netproto.limits import NetLimits

    with trio.move_on_after(timeout_s):
        try:
            async with open_connection(host, port, cluster_id=cluster_id, kind="client",
                                       limits=NetLimits()) as conn:
                resp = await conn.call(QuorumStatusRequest(), timeout_s=timeout_s)
                return status_to_dict(resp)
        except (RafkaError, OSError, trio.BrokenResourceError):
            return None
    return None


async def metadata_status(host: str, port: int, cluster_id: str | None,
                          timeout_s: float) -> dict | None:
    """A node's applied metadata offset and image digest
    ({"metadata_offset", "digest", ...}), or None when it does not answer.
    """
    from rafka.broker.metadata.messages import MetadataStatusRequest
    from rafka.netproto.connection import open_connection
    from rafka.netproto.limits import NetLimits
    from rafka.netproto.schema import to_wire

    with trio.move_on_after(timeout_s):
        try:
            async with open_connection(host, port, cluster_id=cluster_id, kind="client",
                                       limits=NetLimits()) as conn:
                return dict(to_wire(await conn.call(MetadataStatusRequest(), timeout_s=timeout_s)))
        except (RafkaError, OSError, trio.BrokenResourceError):
            return None
    return None


# Errors after which another node may do better. The request was refused or
# never sent here; the op is retried on the next node within its deadline.
RETRY_ELSEWHERE = frozenset({
    ErrorCode.NOT_CONTROLLER,
    ErrorCode.NOT_LEADER_OR_FOLLOWER,
    ErrorCode.LEADER_NOT_AVAILABLE,
    ErrorCode.NETWORK_EXCEPTION,
    ErrorCode.REQUEST_TIMED_OUT,  # e.g. a paused node: try another one
})
RETRY_BACKOFF_S = 0.1

# Answers after which a request that was sent may still take effect later
# (a paused node holding it in its socket buffer, a deposed leader that had
# appended it). A write is never retried after one of these: the stale copy
# could apply after a later op (a create resurrecting a deleted topic, an old
# config value overwriting a newer one), which the history could not show.
OUTCOME_UNKNOWN = frozenset({ErrorCode.NETWORK_EXCEPTION, ErrorCode.REQUEST_TIMED_OUT})


class UncertainError(RafkaError):
    """A definite error that follows an attempt with an unknown outcome: the
    op as a whole may have happened, so it must be recorded as info."""

    def __init__(self, first: RafkaError, last: RafkaError) -> None:
        super().__init__(ErrorCode.UNKNOWN_SERVER_ERROR,
                         f"{last.code.name} after an uncertain {first.code.name}")


def _with_consistent(cls: Any, **kwargs: Any) -> Any:
    """Ask for the linearizable read path when the request type offers it."""
    fields = getattr(cls, "__dataclass_fields__", {})
    if "consistent" in fields:
        kwargs["consistent"] = True
    return cls(**kwargs)


class ClusterAdminClient:
    """AdminClient over netproto's ClusterClient and the admin requests of
    broker/controller/requests.py.

    Writes must reach the active controller: on NOT_CONTROLLER and similar
    refusals (nothing happened) or when nothing was sent, the call moves to
    the next node (sticking with the one that worked). A write whose sent
    attempt has an unknown outcome is NOT retried: it ends there and is
    recorded as `info`, because the stale attempt may still apply later.
    Reads retry freely; a definite error after an uncertain attempt becomes
    `UncertainError`.
    Reads ask for the linearizable path (`consistent=True`) when offered.
    """

    def __init__(self, client: Any, requests: Any, call_timeout_s: float) -> None:
        self._client = client
        self._req = requests
        self._timeout_s = call_timeout_s
        self._current = 0
        self.consistent_reads = "consistent" in getattr(
            requests.ListTopicsRequest, "__dataclass_fields__", {})

    async def _call(self, msg: Any, *, write: bool = False) -> Any:
        addrs = self._client.addrs
        uncertain: RafkaError | None = None
        for attempt in range(64):
            addr = addrs[self._current % len(addrs)]
            try:
                resp = await self._client.call_node(addr, msg, self._timeout_s)
                return _raise_for_errors(resp)
            except RafkaError as exc:
                sent = type(exc).__name__ != "NotSentError"
                if write and sent and exc.code in OUTCOME_UNKNOWN:
                    raise  # may still happen later: info, never retried
                if exc.code not in RETRY_ELSEWHERE or not (len(addrs) > 1 or not sent):
                    if uncertain is not None and exc.code != ErrorCode.TOPIC_ALREADY_EXISTS:
                        raise UncertainError(uncertain, exc) from exc
                    raise
                if sent and uncertain is None:
                    uncertain = exc  # e.g. a deposed leader that had appended it
                self._current += 1
                await trio.sleep(RETRY_BACKOFF_S * min(attempt + 1, 5))
        raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, "gave up after 64 attempts")

    async def create_topic(self, name: str) -> None:
        await self._call(self._req.CreateTopicsRequest(topics=[self._req.CreatableTopic(
            name=name, num_partitions=1, replication_factor=1, configs={})]), write=True)

    async def delete_topic(self, name: str) -> None:
        await self._call(self._req.DeleteTopicsRequest(names=[name]), write=True)

    async def list_topics(self) -> list[str]:
        resp = await self._call(_with_consistent(self._req.ListTopicsRequest))
        return list(resp.names)

    async def alter_config(self, topic: str, key: str, value: str) -> None:
        await self._call(self._req.AlterConfigsRequest(topics=[self._req.AlterableTopicConfigs(
            name=topic, configs={key: value})]), write=True)

    async def describe_config(self, topic: str, key: str) -> str | None:
        resp = await self._call(_with_consistent(self._req.DescribeTopicRequest, name=topic))
        return (getattr(resp, "configs", None) or {}).get(key)


def _raise_for_errors(resp: Any) -> Any:
    """Per-item error codes in a response (Kafka style) become RafkaError."""
    for item in getattr(resp, "results", None) or []:
        code = getattr(item, "error_code", 0) or 0
        if code:
            raise RafkaError(ErrorCode(code), getattr(item, "error_message", "") or "")
    return resp


@asynccontextmanager
async def open_admin_client(bootstrap: list[str], cluster_id: str, *, seed: int,
                            call_timeout_s: float = 5.0) -> AsyncIterator[ClusterAdminClient]:
    import random

    from rafka.broker.controller import requests
    from rafka.netproto.cluster_client import open_cluster_client

    async with open_cluster_client(bootstrap, cluster_id=cluster_id,
                                   rng=random.Random(seed)) as client:
        # per-attempt deadline well inside the op's, so a silent node is left
        # for another one before the op itself gives up
        yield ClusterAdminClient(client, requests, max(0.5, call_timeout_s / 2.5))
