"""DescribeQuorum (key 55), versions 0-2: the metadata quorum
(`__cluster_metadata`, partition 0) as this node's Raft status sees it:
leader, term (leader epoch), commit index (high watermark), and per voter
and observer its log end offset and when the leader last heard from it
(wall-clock ms) — exact on the leader; a follower knows only itself (-1
elsewhere), so a client wanting every member asks the leader, whose Kafka
listener v2 lists under `nodes` (listener "KAFKA"). `nodes` also names each
member's peer listener ("PEER", as this node reaches it), where rafka's own
tools ask what no Kafka API carries (`rafka brokers list`'s controller-only
fields), naming the cluster id."""

from __future__ import annotations

import time

from rafka.broker.kafka.context import RequestContext
from rafka.netproto.errors import ErrorCode

API_KEY = 55
MIN_VERSION = 0
MAX_VERSION = 2

METADATA_TOPIC = "__cluster_metadata"
KAFKA_LISTENER = "KAFKA"
PEER_LISTENER = "PEER"


def _status_value(st, name, default=None):
    return st.get(name, default) if isinstance(st, dict) else getattr(st, name, default)


def _replica(st, node_id: int, now_ms: int) -> dict:
    me = _status_value(st, "node_id")
    peers = _status_value(st, "peers") or {}
    fetched = caught_up = -1
    if node_id == me:
        leo = _status_value(st, "last_index", -1)
        fetched = caught_up = now_ms
    elif node_id in peers:
        p = peers[node_id]
        leo = p.get("match_index", -1) if isinstance(p, dict) else p.match_index
        ticks = p.get("last_contact_ticks") if isinstance(p, dict) else p.last_contact_ticks
        tick_ms = _status_value(st, "tick_ms", 0) or 0
        if ticks is not None and tick_ms:
            fetched = now_ms - ticks * tick_ms
            if leo >= _status_value(st, "commit_index", 0):
                caught_up = fetched
    else:
        leo = -1
    return {"replica_id": node_id, "log_end_offset": leo, "last_fetch_timestamp": fetched,
            "last_caught_up_timestamp": caught_up}


def partition_body(st, now_ms: int | None = None) -> dict:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    leader = _status_value(st, "leader_id")
    return {
        "partition_index": 0,
        "error_code": ErrorCode.NONE,
        "leader_id": -1 if leader is None else leader,
        "leader_epoch": _status_value(st, "term", 0),
        "high_watermark": _status_value(st, "commit_index", 0),
        "current_voters": [_replica(st, v, now_ms) for v in sorted(_status_value(st, "voters", []) or [])],
        "observers": [_replica(st, v, now_ms) for v in sorted(_status_value(st, "learners", []) or [])],
    }


async def handle(ctx: RequestContext, request) -> dict:
    st = ctx.broker.quorum_status()
    image = ctx.broker.image
    topics = []
    for t in request.topics:
        parts = []
        for p in t.partitions:
            if t.topic_name == METADATA_TOPIC and p.partition_index == 0:
                parts.append(partition_body(st))
            else:
                parts.append({"partition_index": p.partition_index,
                              "error_code": ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                              "error_message": f"{t.topic_name}-{p.partition_index} is not the metadata quorum"})
        topics.append({"topic_name": t.topic_name, "partitions": parts})
    members = (_status_value(st, "voters", []) or []) + (_status_value(st, "learners", []) or [])
    nodes = []
    for v in sorted(members):
        b = image.brokers.get(v)
        listeners = [{"name": KAFKA_LISTENER, "host": b.host, "port": b.port}] if b is not None else []
        peer = getattr(ctx.broker, "peer_address", lambda _id: None)(v)
        if peer is not None:
            listeners.append({"name": PEER_LISTENER, "host": peer[0], "port": peer[1]})
        nodes.append({"node_id": v, "listeners": listeners})
    return {"error_code": ErrorCode.NONE, "topics": topics, "nodes": nodes}
