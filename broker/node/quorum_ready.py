"""When a local quorum is ready, and the status line `quorum up` prints.

Ready (DESIGN.md): a leader is elected and has committed in its term, every
voter has caught up, and every broker is registered and unfenced.
"""

from __future__ import annotations


def quorum_ready(status: dict, ids: list[int]) -> bool:
    """A leader is elected, has committed in its term, and every voter has caught up.

    `ready` also needs every broker registered and unfenced (brokers_ready)."""
    if status.get("leader_id") is None or status.get("role") != "leader":
        return False
    if status.get("commit_index", 0) < 1:
        return False
    voters = {v["node_id"]: v for v in status.get("voters", [])}
    return set(ids) <= set(voters) and all(voters[i].get("lag") == 0 for i in ids)


async def brokers_ready(bootstrap: list[str], cluster_id: str, ids: list[int], timeout_s: float) -> bool:
    """Every node is a registered, unfenced broker (a linearizable read,
    asked of the peer listeners in `bootstrap`)."""
    from rafka.broker.client.admin_client import AdminClient

    client = AdminClient(",".join(bootstrap), timeout_s=timeout_s, cluster_id=cluster_id)
    brokers = {b.node_id: b for b in await client.list_brokers(consistent=True)}
    return all(i in brokers and not brokers[i].fenced for i in ids)


def status_line(status: dict) -> str:
    lags = ",".join(f"{v['node_id']}:{v.get('lag')}" for v in status.get("voters", []))
    return (
        f"status leader={status.get('leader_id')} term={status.get('term')} "
        f"commit={status.get('commit_index')} lag={lags}"
    )


async def brokers_ready_now(bootstrap: list[str], cluster_id: str, ids: list[int]) -> bool:
    import trio

    try:
        with trio.fail_after(3.0):
            return await brokers_ready(bootstrap, cluster_id, ids, 2.0)
    except Exception:  # noqa: BLE001 - not registered yet / no controller yet
        return False
