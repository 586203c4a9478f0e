"""When the Raft leader may add or remove a voter (`rafka quorum
add-voter|remove-voter`). Pure: judges a driver status, decides nothing else.

Refusals (INVALID_REQUEST, one line): add_voter of a node that is not a
caught-up learner; remove_voter of a non-voter, of the last voter, or when
the remaining voters that answered within an election timeout would not form
a majority of the new set. The Raft core checks the same rules again
atomically with the append.
"""

from __future__ import annotations


def _live(status: dict, node_id: int, election_timeout_ticks: int) -> bool:
    if node_id == status.get("node_id"):
        return True
    peer = (status.get("peers") or {}).get(node_id)
    return peer is not None and peer.get("last_contact_ticks", election_timeout_ticks) < election_timeout_ticks


def add_voter_refusal(status: dict, node_id: int, election_timeout_ticks: int) -> str | None:
    """Why the leader (whose driver status is `status`) must refuse to
    promote `node_id`, or None. Pure."""
    if node_id in status.get("voters", ()):
        return f"node {node_id} is already a voter"
    if node_id not in status.get("learners", ()):
        return f"node {node_id} is not an observer of the metadata quorum"
    peer = (status.get("peers") or {}).get(node_id) or {}
    match, commit = peer.get("match_index", 0), status.get("commit_index", 0)
    if match < commit or not _live(status, node_id, election_timeout_ticks):
        return f"observer {node_id} is not caught up (log end {match + 1}, leader commit {commit})"
    return None


def remove_voter_refusal(status: dict, node_id: int, election_timeout_ticks: int) -> str | None:
    """Why the leader must refuse to remove voter `node_id`, or None. Pure."""
    voters = set(status.get("voters", ()))
    if node_id not in voters:
        return f"node {node_id} is not a voter"
    if len(voters) == 1:
        return "cannot remove the last voter"
    remaining = voters - {node_id}
    live = sum(1 for v in remaining if _live(status, v, election_timeout_ticks))
    if live < len(remaining) // 2 + 1:
        return (f"removing node {node_id} would leave {len(remaining)} voters of which only {live} "
                f"are reachable: no quorum")
    return None
