"""The Raft benchmark's state machine and request handler (`--bench`).

Why a separate state machine, chosen when the node starts: the metadata log
of a production node carries only metadata record batches, so every
replica's decoder can fail loudly on anything else. A node started with
`rafka node start --bench` runs this state machine instead of the metadata
one (no controller, no metadata image): its Raft log carries opaque entries
that `BenchAppendRequest` proposes, and it only counts them and chains a
sha256 over their data (d' = sha256(d + data)), so tests and benchmarks can
compare replicas (`summary()["entries_applied"]`, `["digest"]`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgpack

from rafka.broker.node.messages import (
    BENCH_ENTRIES_PER_REQUEST_MAX,
    BENCH_ENTRY_BYTES_MAX,
    BenchAppendRequest,
    BenchAppendResponse,
)
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.raft.errors import NotLeaderError, ProposalDroppedError, RaftError, RaftTimeoutError

NORMAL_KIND = 0  # rafka.raft.types.EntryKind.NORMAL
PROPOSE_TIMEOUT_MS = 10_000


class BenchStateMachine:
    """Counts applied NORMAL entries and chains a digest over their data."""

    def __init__(self) -> None:
        self.entries_applied = 0
        self.digest = bytes(32)

    def apply(self, entry: Any) -> Any:
        if int(entry.kind) == NORMAL_KIND and entry.data:
            self.digest = hashlib.sha256(self.digest + bytes(entry.data)).digest()
            self.entries_applied += 1
        return entry.index

    def snapshot(self) -> bytes:
        return msgpack.packb({"entries_applied": self.entries_applied, "digest": self.digest}, use_bin_type=True)

    def restore(self, data: bytes) -> None:
        doc = msgpack.unpackb(data, raw=False)
        self.entries_applied = int(doc["entries_applied"])
        self.digest = bytes(doc["digest"])

    def summary(self) -> dict[str, str]:
        return {"entries_applied": str(self.entries_applied), "digest": self.digest.hex()}


class BenchHandler:
    """Serves BenchAppendRequest to tools (the peer listener's "client"
    connections) on a `--bench` node."""

    def __init__(self, driver, node_id: int) -> None:
        self.driver = driver
        self.node_id = node_id

    def tool_handlers(self) -> dict:
        return {BenchAppendRequest.TYPE: self.handle_append}

    async def handle_append(self, req: BenchAppendRequest, ctx=None) -> BenchAppendResponse:
        if not 1 <= len(req.entries) <= BENCH_ENTRIES_PER_REQUEST_MAX:
            raise RafkaError(ErrorCode.INVALID_REQUEST, f"1..{BENCH_ENTRIES_PER_REQUEST_MAX} entries per request")
        if max(map(len, req.entries)) > BENCH_ENTRY_BYTES_MAX:
            raise RafkaError(ErrorCode.MESSAGE_TOO_LARGE, f"entries are at most {BENCH_ENTRY_BYTES_MAX} bytes")
        term = self.driver.term
        try:
            # One batch: one inbox item, one append, one waiter for the request;
            # appended only while this node leads `term` (else NotLeaderError).
            results = await self.driver.propose_batch(
                [bytes(d) for d in req.entries], timeout_s=PROPOSE_TIMEOUT_MS / 1000, expected_term=term
            )
        except NotLeaderError as exc:
            hint = f"; leader is node {exc.leader_id}" if exc.leader_id else "; no leader known"
            raise RafkaError(ErrorCode.NOT_CONTROLLER, f"node {self.node_id} is not the leader{hint}") from None
        except RaftTimeoutError as exc:
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, str(exc)) from None
        except ProposalDroppedError as exc:
            raise RafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, f"proposal dropped: {exc}") from None
        except RaftError as exc:
            raise RafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, f"{type(exc).__name__}: {exc}") from None
        return BenchAppendResponse(first_index=results[0], last_index=results[-1], term=term)
