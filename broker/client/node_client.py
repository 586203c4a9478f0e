"""rafka's own tools' client for node-level requests (quorum status, bench
appends), asked of a node's peer listener as a "client" connection that
names the cluster id (meta.properties, the harness, or Kafka Metadata's
cluster_id tell it).

Why a separate module: `quorum up`, the integration fixtures, `brokers list`
and the benchmarks all ask nodes the same questions; this is the one place
that knows how to find the leader and turn network failures into typed
errors.

Every call is bounded by the caller's `timeout_s`; failures raise
`AdminError` with a Kafka-style code name (e.g. NETWORK_EXCEPTION,
LEADER_NOT_AVAILABLE) and a one-line message.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import trio

from rafka.broker.node.messages import (
    BenchAppendRequest,
    BenchAppendResponse,
    QuorumStatusRequest,
    QuorumStatusResponse,
)
from rafka.broker.node.status import status_to_dict
from rafka.netproto.addresses import AddressError, as_addr
from rafka.netproto.connection import Connection, open_connection
from rafka.netproto.errors import RafkaError
from rafka.netproto.handshake import KIND_CLIENT


class AdminError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def split_address(address: str) -> tuple[str, int]:
    """(host, port) of "host:port" (netproto.addresses rules); AdminError when bad."""
    try:
        return as_addr(address)
    except AddressError as exc:
        raise AdminError("INVALID_ARGUMENTS", str(exc)) from None


@asynccontextmanager
async def connect(address: str, cluster_id: str) -> AsyncIterator[Connection]:
    """A tool connection to one node's peer listener; RafkaError becomes
    AdminError (INCONSISTENT_CLUSTER_ID when the id is not that node's)."""
    host, port = split_address(address)
    try:
        async with open_connection(host, port, cluster_id=cluster_id, kind=KIND_CLIENT) as conn:
            yield conn
    except RafkaError as exc:
        raise AdminError(exc.code_name, f"{address}: {exc.message}") from None


async def _call(address: str, cluster_id: str, request, timeout_s: float):
    with trio.fail_after(timeout_s):
        async with connect(address, cluster_id) as conn:
            try:
                return await conn.call(request, timeout_s=timeout_s)
            except RafkaError as exc:
                raise AdminError(exc.code_name, f"{address}: {exc.message}") from None


async def node_status(address: str, cluster_id: str, timeout_s: float = 5.0) -> dict:
    """One node's own view of the quorum (no redirect)."""
    try:
        resp = await _call(address, cluster_id, QuorumStatusRequest(), timeout_s)
    except trio.TooSlowError:
        raise AdminError("REQUEST_TIMED_OUT", f"{address}: no answer in {timeout_s}s") from None
    if not isinstance(resp, QuorumStatusResponse):
        raise AdminError("UNKNOWN_SERVER_ERROR", f"{address}: unexpected {type(resp).__name__}")
    return status_to_dict(resp)


async def quorum_status(bootstrap: list[str], cluster_id: str, timeout_s: float = 5.0) -> dict:
    """The leader's view: ask the bootstrap nodes (peer listeners), follow a
    follower's hint to the leader's peer address, and fall back to the freshest follower
    view (highest term) when no leader answers."""
    queue = list(bootstrap)
    asked: set[str] = set()
    best: dict | None = None
    last_error: AdminError | None = None
    per_call_s = max(0.5, timeout_s / max(1, len(bootstrap)))
    with trio.move_on_after(timeout_s):
        while queue:
            address = queue.pop(0)
            if address in asked:
                continue
            asked.add(address)
            try:
                status = await node_status(address, cluster_id, per_call_s)
            except AdminError as exc:
                last_error = exc
                continue
            if status["role"] == "leader" and status["leader_id"] == status["node_id"]:
                return status
            hint = status.get("leader_peer_address")
            if hint and hint not in asked:
                queue.insert(0, hint)
            if best is None or status["term"] > best["term"]:
                best = status
    if best is not None:
        return best
    if last_error is not None:
        raise AdminError(last_error.code, f"no node answered; last: {last_error.message}")
    raise AdminError("REQUEST_TIMED_OUT", f"no node answered within {timeout_s}s")


async def bench_append(address: str, cluster_id: str, entries: list[bytes], timeout_s: float = 10.0) -> dict:
    """Append opaque entries through a node started with --bench; returns
    {"first_index", "last_index", "term"} once they are committed."""
    try:
        resp = await _call(address, cluster_id, BenchAppendRequest(entries=list(entries)), timeout_s)
    except trio.TooSlowError:
        raise AdminError("REQUEST_TIMED_OUT", f"{address}: no answer in {timeout_s}s") from None
    if not isinstance(resp, BenchAppendResponse):
        raise AdminError("UNKNOWN_SERVER_ERROR", f"{address}: unexpected {type(resp).__name__}")
    return {"first_index": resp.first_index, "last_index": resp.last_index, "term": resp.term}
