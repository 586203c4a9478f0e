"""Quorum status: build a node's `QuorumStatusResponse` and render it.

Pure functions (no clock, no I/O): the node passes in what its Raft driver
reports and when it last heard from each peer; the CLI turns the answer into
the JSON shape of DESIGN.md or a small table.

Why the leader's view is the one worth showing: only the leader knows every
member's replicated log end (its match index). A follower reports itself
and leaves the others' lag unknown (None), plus the leader id and address so
the client can ask the leader instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from rafka.broker.node.messages import QuorumStatusResponse, ReplicaState
from rafka.raft.status import RaftStatus

# Keys DESIGN.md requires of `rafka quorum status --json`.
REQUIRED_KEYS = ("cluster_id", "leader_id", "term", "commit_index", "voters", "observers")
REPLICA_KEYS = ("node_id", "log_end_offset", "lag", "last_contact_ms")


def build_status(
    *,
    cluster_id: str,
    node_id: int,
    role: str,
    leader_id: int | None,
    term: int,
    commit_index: int,
    applied_index: int,
    last_index: int,
    voters: list[int],
    observers: list[int],
    match_index: Mapping[int, int] | None,
    last_contact_ms: Mapping[int, int | None],
    leader_peer_address: str | None = None,
    state_machine: Mapping[str, str] | None = None,
) -> QuorumStatusResponse:
    """Assemble the answer. Log end offsets follow Kafka's convention: the
    offset of the next entry, i.e. Raft's last index + 1 for a full log.

    `match_index` is the leader's progress map (None on a follower). On the
    leader, lag = leader log end - member log end; on a follower only its
    own entry is filled in, with lag unknown.
    """
    is_leader = role == "leader" and leader_id == node_id
    leader_end = last_index + 1

    def member(i: int) -> ReplicaState:
        if i == node_id:
            return ReplicaState(
                node_id=i,
                log_end_offset=leader_end,
                lag=0 if is_leader else None,
                last_contact_ms=0,
            )
        if is_leader and match_index is not None and i in match_index:
            end = match_index[i] + 1
            return ReplicaState(
                node_id=i,
                log_end_offset=end,
                lag=max(0, leader_end - end),
                last_contact_ms=last_contact_ms.get(i),
            )
        return ReplicaState(node_id=i, last_contact_ms=last_contact_ms.get(i))

    return QuorumStatusResponse(
        cluster_id=cluster_id,
        node_id=node_id,
        role=role,
        leader_id=leader_id,
        term=term,
        commit_index=commit_index,
        applied_index=applied_index,
        log_end_offset=leader_end,
        voters=[member(i) for i in sorted(voters)],
        observers=[member(i) for i in sorted(observers)],
        leader_peer_address=leader_peer_address,
        state_machine=dict(state_machine or {}),
    )


def status_from_driver(
    st: RaftStatus,
    *,
    cluster_id: str,
    now: float,
    last_inbound: Mapping[int, float],
    leader_peer_address: str | None,
    state_machine: Mapping[str, str],
) -> QuorumStatusResponse:
    """A node's answer from its Raft driver's status `st`: last contact is
    what the leader's progress tracks (ticks, turned into ms), else the time
    since this node last heard from each peer (`last_inbound`, seconds on
    the same clock as `now`)."""
    contact: dict[int, int | None] = {i: int((now - t) * 1000) for i, t in last_inbound.items()}
    match_index = None
    if st.role == "leader":
        match_index = {i: p.match_index for i, p in st.peers.items()}
        contact.update({i: p.last_contact_ticks * st.tick_ms for i, p in st.peers.items()})
    return build_status(
        cluster_id=cluster_id,
        node_id=st.node_id,
        role=st.role,
        leader_id=st.leader_id,
        term=st.term,
        commit_index=st.commit_index,
        applied_index=st.applied,
        last_index=st.last_index,
        voters=st.voters,
        observers=st.learners,
        match_index=match_index,
        last_contact_ms=contact,
        leader_peer_address=leader_peer_address,
        state_machine=state_machine,
    )


def status_to_dict(resp: QuorumStatusResponse) -> dict:
    """The JSON form: DESIGN.md's keys first, then extras."""

    def replica(r: ReplicaState) -> dict:
        return {
            "node_id": r.node_id,
            "log_end_offset": r.log_end_offset,
            "lag": r.lag,
            "last_contact_ms": r.last_contact_ms,
        }

    return {
        "cluster_id": resp.cluster_id,
        "leader_id": resp.leader_id,
        "term": resp.term,
        "commit_index": resp.commit_index,
        "voters": [replica(r) for r in resp.voters],
        "observers": [replica(r) for r in resp.observers],
        "node_id": resp.node_id,
        "role": resp.role,
        "applied_index": resp.applied_index,
        "log_end_offset": resp.log_end_offset,
        "leader_peer_address": resp.leader_peer_address,
        "state_machine": state_machine_to_json(resp.state_machine),
    }


def state_machine_to_json(summary: Mapping[str, str]) -> dict:
    """The state machine summary travels as strings (the wire type is
    dict[str, str]); in JSON its counts and offsets are numbers, so scripts
    can compare them (`"metadata_offset": 7`, not `"7"`). Digests stay
    strings even when every hex digit happens to be a decimal one."""
    out: dict = {}
    for key, value in summary.items():
        if isinstance(value, str) and not key.endswith("digest") and _is_decimal(value):
            out[key] = int(value)
        else:
            out[key] = value
    return out


def _is_decimal(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()


def render_status_table(status: dict) -> str:
    """A small human table of a status dict (as from status_to_dict)."""

    def cell(v) -> str:
        return "-" if v is None else str(v)

    lines = [
        f"cluster_id    {status['cluster_id']}",
        f"leader_id     {cell(status['leader_id'])}",
        f"term          {status['term']}",
        f"commit_index  {status['commit_index']}",
    ]
    if status.get("node_id") is not None and status.get("node_id") != status.get("leader_id"):
        lines.append(f"(answered by node {status['node_id']}, role {status.get('role')})")
    header = ("NODE", "KIND", "LOG_END_OFFSET", "LAG", "LAST_CONTACT_MS")
    rows = [header]
    for kind in ("voters", "observers"):
        for r in status.get(kind, []):
            label = "voter" if kind == "voters" else "observer"
            if r["node_id"] == status.get("leader_id"):
                label += "*"
            rows.append(
                (
                    str(r["node_id"]),
                    label,
                    cell(r["log_end_offset"]),
                    cell(r["lag"]),
                    cell(r["last_contact_ms"]),
                )
            )
    widths = [max(len(row[k]) for row in rows) for k in range(len(header))]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)
