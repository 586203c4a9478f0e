"""When the Raft leader may add or remove a voter (`rafka quorum
add-voter|remove-voter`). Pure: judges a driver status, decides nothing else.

Refusals (INVALID_REQUEST, one line): add_voter of a node that is not a
caught-up learner; remove_voter of a non-voter, of the last voter, or when
the remaining voters that answered within an election timeout would not form
a majority of the new set. The Raft core checks the same rules again
atomically with the append.
"""

from __future__ import annotations

from rafka.raft.status import RaftStatus


def add_voter_refusal(status: RaftStatus, node_id: int) -> str | None:
    """Why the leader (whose driver status is `status`) must refuse to
    promote `node_id`, or None."""
    if node_id in status.voters:
        return f"node {node_id} is already a voter"
    if node_id not in status.learners:
        return f"node {node_id} is not an observer of the metadata quorum"
    if not status.caught_up(node_id):
        peer = status.peers.get(node_id)
        end = peer.match_index + 1 if peer is not None else "unknown"
        return f"observer {node_id} is not caught up (log end {end}, leader commit {status.commit_index})"
    return None


def remove_voter_refusal(status: RaftStatus, node_id: int) -> str | None:
    """Why the leader must refuse to remove voter `node_id`, or None."""
    voters = set(status.voters)
    if node_id not in voters:
        return f"node {node_id} is not a voter"
    if len(voters) == 1:
        return "cannot remove the last voter"
    remaining = voters - {node_id}
    live = sum(1 for v in status.live_voters() if v in remaining)
    if live < len(remaining) // 2 + 1:
        return (f"removing node {node_id} would leave {len(remaining)} voters of which only {live} "
                f"are reachable: no quorum")
    return None
