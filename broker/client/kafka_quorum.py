"""`rafka quorum status` over the Kafka protocol: DescribeQuorum (v2) and
Metadata (for the cluster id) with the small kio client.

A follower knows only its own log end, so when the answering node is not
the leader the question is asked again of the leader's Kafka listener
(DescribeQuorum v2 lists it), or of the next bootstrap address when it
names no leader. The answer has DESIGN.md's status keys:
cluster_id, leader_id, term, commit_index, and per voter and observer
node_id, log_end_offset, lag (leader log end - member log end) and
last_contact_ms (how long ago the leader heard from it).
"""

from __future__ import annotations

import time

import trio
from kio.schema.describe_quorum.v2.request import DescribeQuorumRequest, PartitionData, TopicData
from kio.schema.metadata.v12.request import MetadataRequest

from rafka.broker.client.kio_client import WIRE_ERRORS, ask_first, connect, error_code

METADATA_TOPIC = "__cluster_metadata"


class QuorumUnavailable(Exception):
    """No bootstrap address answered over the Kafka protocol."""


async def ask_quorum(address: str) -> tuple[str | None, object]:
    """(Metadata's cluster id, the DescribeQuorum v2 response) of one address."""
    conn = await connect(address, "rafka-cli")
    try:
        await conn.send(MetadataRequest(topics=(), allow_auto_topic_creation=False,
                                        include_topic_authorized_operations=False))
        await conn.send(DescribeQuorumRequest(topics=(TopicData(
            topic_name=METADATA_TOPIC, partitions=(PartitionData(partition_index=0),)),)))
        md = await conn.receive()
        return md.cluster_id, await conn.receive()
    finally:
        await conn.aclose()


def _replica(r, leader_end: int | None, now_ms: int) -> dict:
    end = None if r.log_end_offset < 0 else r.log_end_offset
    return {
        "node_id": r.replica_id,
        "log_end_offset": end,
        "lag": None if end is None or leader_end is None else max(0, leader_end - end),
        "last_contact_ms": None if r.last_fetch_timestamp < 0 else max(0, now_ms - r.last_fetch_timestamp),
    }


def status_from(cluster_id: str | None, resp, answered_by: str) -> dict:
    (part,) = resp.topics[0].partitions
    leader = None if part.leader_id < 0 else part.leader_id
    ends = {r.replica_id: r.log_end_offset for r in part.current_voters}
    leader_end = ends.get(leader) if leader is not None and ends.get(leader, -1) >= 0 else None
    now_ms = int(time.time() * 1000)
    return {
        "cluster_id": cluster_id,
        "leader_id": leader,
        "term": part.leader_epoch,
        "commit_index": part.high_watermark,
        "voters": [_replica(r, leader_end, now_ms) for r in part.current_voters],
        "observers": [_replica(r, leader_end, now_ms) for r in part.observers],
        "answered_by": answered_by,
    }


KAFKA_LISTENER = "KAFKA"  # DescribeQuorum's nodes also list "PEER" (rafka's tools only)


def _leader_address(resp, leader: int | None) -> str | None:
    """The leader's Kafka listener from DescribeQuorum v2's nodes."""
    for node in resp.nodes:
        if node.node_id == leader:
            for listener in node.listeners:
                if listener.name == KAFKA_LISTENER:
                    return f"{listener.host}:{listener.port}"
    return None


async def quorum_status(bootstrap: list[str], timeout_s: float) -> dict:
    """The status as the leader sees it: the bootstrap addresses in turn,
    each follower's answer sending us to the leader it names first; when no
    leader answers, the freshest follower view (highest term). A removed or
    partitioned voter knows no leader and has a stale view, so its answer
    alone is never final. Raises QuorumUnavailable."""
    errors = []
    best: dict | None = None
    queue, asked = list(bootstrap), set()
    with trio.move_on_after(timeout_s):
        while queue:
            address = queue.pop(0)
            if address in asked:
                continue
            asked.add(address)
            try:
                cluster_id, resp = await ask_quorum(address)
            except WIRE_ERRORS as exc:
                errors.append(f"{address}: {exc}")
                continue
            status = status_from(cluster_id, resp, address)
            if status["leader_id"] is not None and all(v["log_end_offset"] is not None for v in status["voters"]):
                return status  # the leader's own view
            leader_addr = _leader_address(resp, status["leader_id"])
            if leader_addr is not None and leader_addr not in asked:
                queue.insert(0, leader_addr)
            if best is None or status["term"] > best["term"]:
                best = status
    if best is not None:
        return best
    raise QuorumUnavailable("; ".join(errors) or f"no answer within {timeout_s}s")


async def change_voter(bootstrap: list[str], kind: str, node_id: int, timeout_s: float) -> dict:
    """AddRaftVoter ("add") or RemoveRaftVoter ("remove") for `node_id`,
    sent to the first reachable address (any node forwards it to the
    leader), then the resulting voters and observers. Raises RafkaError
    with Kafka's code on a refusal, QuorumUnavailable when no address
    answers."""
    import datetime

    from kio.schema.add_raft_voter.v1.request import AddRaftVoterRequest
    from kio.schema.remove_raft_voter.v0.request import RemoveRaftVoterRequest

    from rafka.netproto.errors import RafkaError

    if kind == "add":
        request = AddRaftVoterRequest(cluster_id=None, timeout=datetime.timedelta(seconds=timeout_s),
                                      voter_id=node_id, voter_directory_id=None, listeners=(),
                                      ack_when_committed=True)
    else:
        request = RemoveRaftVoterRequest(cluster_id=None, voter_id=node_id, voter_directory_id=None)
    errors: list[str] = []
    with trio.move_on_after(timeout_s):
        answer = await ask_first(bootstrap, [request], client_id="rafka-cli", errors=errors)
        if answer is not None:
            _address, (resp,) = answer
            if resp.error_code != 0:
                code = error_code(resp.error_code)
                raise RafkaError(code, resp.error_message or code.name)
            status = await quorum_status(bootstrap, timeout_s)
            return {"voters": [v["node_id"] for v in status["voters"]],
                    "observers": [o["node_id"] for o in status["observers"]]}
    raise QuorumUnavailable("; ".join(errors) or f"no answer within {timeout_s}s")
