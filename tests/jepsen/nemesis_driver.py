"""Applies a nemesis schedule (nemesis.py) to a live `Cluster`. Thin shell.

Every fault start and stop is recorded in the history as a `nemesis` event
({"f": "start"|"stop", "value": description}) so the checkers, the summary
and the plot see the fault windows. `heal_all` undoes everything whatever
state a cancelled driver left behind: the run always ends healed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
import trio

from tests.jepsen.client import node_status
from tests.jepsen.cluster import HOST, Cluster
from tests.jepsen.history import HistoryRecorder
from tests.jepsen.nemesis import FaultEvent, grudge

log = structlog.get_logger("jepsen.nemesis")


@dataclass
class NemesisState:
    """What the progress line shows and heal_all needs."""

    current: str = "none"
    killed: set[int] = field(default_factory=set)
    paused: set[int] = field(default_factory=set)
    faults_started: int = 0


async def statuses(cluster: Cluster, timeout_s: float | None = None, *,
                   query=node_status) -> dict[int, dict | None]:
    """Each node's answer to `query` (QuorumStatus by default) straight from
    its peer listener, naming the cluster id (None for a node that does not
    answer), queried
    concurrently."""
    timeout_s = timeout_s or cluster.settings.status_timeout_s
    out: dict[int, dict | None] = {}

    async def one(i: int) -> None:
        node = cluster.nodes[i]
        if not node.alive or node.paused:
            out[i] = None
            return
        out[i] = await query(HOST, node.peer_port, cluster.cluster_id, timeout_s)

    async with trio.open_nursery() as nursery:
        for i in cluster.node_ids:
            nursery.start_soon(one, i)
    return out


def leader_of(views: dict[int, dict | None]) -> int | None:
    """The leader claimed in the highest term any node reports."""
    best: tuple[int, int] | None = None
    for view in views.values():
        if view and view.get("leader_id") is not None:
            cand = (int(view.get("term", 0)), int(view["leader_id"]))
            if best is None or cand > best:
                best = cand
    return None if best is None else best[1]


async def resolve_target(cluster: Cluster, event: FaultEvent) -> int | None:
    node = event.params.get("node")
    if node == "leader":
        return leader_of(await statuses(cluster))
    return node


async def apply_fault(cluster: Cluster, event: FaultEvent, state: NemesisState) -> str:
    """Start the fault; returns its description with resolved targets."""
    kind = event.kind
    target = await resolve_target(cluster, event) if "node" in event.params else None
    if kind.startswith("partition-"):
        blocked = grudge(event, cluster.node_ids, target)
        cluster.partition(blocked, event.params["mode"])
        desc = f"{event.describe()} target={target} links={sorted(blocked)}"
    elif kind == "kill-all":
        cluster.kill_all()
        state.killed.update(cluster.node_ids)
        desc = f"{kind} nodes={cluster.node_ids}"
    elif kind == "lose-unfsynced-all":
        state.killed.update(cluster.node_ids)  # first: heal_all restarts them even if cancelled
        lost = await trio.to_thread.run_sync(cluster.lose_unfsynced_all,
                                             event.params.get("torn_seed"))
        desc = f"{event.describe()} lost={lost}"
    elif kind == "lose-unfsynced":
        lost = None
        if target is not None:
            state.killed.add(target)  # first: heal_all restarts it even if cancelled
            lost = await trio.to_thread.run_sync(cluster.lose_unfsynced, target,
                                                 event.params.get("torn_seed"))
        desc = f"{event.describe()} target={target} lost={lost}"
    elif kind.startswith("kill-"):
        if target is not None:
            cluster.kill(target)
            state.killed.add(target)
        desc = f"{kind} node={target}"
    elif kind.startswith("pause-"):
        if target is not None:
            cluster.pause(target)
            state.paused.add(target)
        desc = f"{kind} node={target}"
    elif kind == "delay":
        cluster.set_delay(event.params["delay_ms"])
        desc = event.describe()
    else:
        raise ValueError(f"unknown nemesis kind {kind!r}")
    return desc


def heal_all(cluster: Cluster, state: NemesisState) -> None:
    """Network healed, paused nodes resumed, killed nodes restarted."""
    cluster.heal_network()
    for i in sorted(state.paused):
        cluster.resume(i)
    state.paused.clear()
    for i in sorted(state.killed):
        cluster.launch(i)
    state.killed.clear()
    state.current = "none"


async def run_nemesis(cluster: Cluster, schedule: list[FaultEvent], history: HistoryRecorder,
                      state: NemesisState) -> None:
    """Follow the schedule (times relative to the history's start)."""
    for event in schedule:
        await _sleep_until(history, event.start_s)
        desc = await apply_fault(cluster, event, state)
        state.current = desc
        state.faults_started += 1
        history.nemesis("start", desc)
        log.info("fault_start", fault=desc)
        await _sleep_until(history, event.end_s)
        heal_all(cluster, state)
        history.nemesis("stop", desc)
        log.info("fault_stop", fault=desc)


async def _sleep_until(history: HistoryRecorder, t_s: float) -> None:
    delay = t_s - history.elapsed_s()
    if delay > 0:
        await trio.sleep(delay)
