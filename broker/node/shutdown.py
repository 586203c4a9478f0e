"""Stopping a node: wait for the stop request, then shut down in order.

Why a separate module: broker/node.py wires a node's parts together; this
module is the only one that decides *how a node stops*. A stop is requested by
SIGTERM/SIGINT, or by the parent process exiting (with --exit-with-parent).
Then:
1. controlled shutdown of the broker role (its partition leaderships move
   away), bounded by `CONTROLLED_SHUTDOWN_TIMEOUT_MS`;
2. a leader hands Raft leadership to its most caught-up live voter, bounded
   by twice the election timeout;
3. every task of the node is cancelled (the node closes its storage).

A node that stops on an unexpected error instead is reported here too: the
root causes are dug out of trio's (nested) exception groups, each logged as
one `node_crashed` event with its traceback, and named in NodeCrashedError's
one-line message.

Invariants: each step is bounded and a failing step never stops the next
one; the signal receiver is open before the node starts, so a signal that
arrives during startup still stops the node cleanly once it is up.
"""

from __future__ import annotations

import os
import signal
import traceback

import trio

from rafka.raft.errors import RaftError
from rafka.raft.status import RaftStatus

__all__ = [
    "CONTROLLED_SHUTDOWN_TIMEOUT_MS",
    "NodeCrashedError",
    "crash_summary",
    "report_crash",
    "root_causes",
    "PARENT_POLL_MS",
    "hand_over_leadership",
    "handover_target",
    "serve_until_stopped",
    "shut_down_broker_role",
]

# Controlled shutdown of the broker role (moving partition leaderships away)
# before the Raft handover, at most this long.
CONTROLLED_SHUTDOWN_TIMEOUT_MS = 5000
PARENT_POLL_MS = 500


async def serve_until_stopped(node, *, exit_with_parent: bool) -> None:
    """Run `node` (its `run`, `controlled_shutdown` and bound `log`) until a
    stop is requested, then shut it down and cancel its tasks."""
    parent = os.getppid()
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            stop = trio.Event()

            async def on_signal() -> None:
                async for signum in signals:
                    node.log.info("node_stopping", signal=signal.Signals(signum).name)
                    stop.set()
                    return

            async def watch_parent() -> None:
                while os.getppid() == parent:
                    await trio.sleep(PARENT_POLL_MS / 1000)
                node.log.warning("node_stopping", reason="parent process exited")
                stop.set()

            nursery.start_soon(on_signal)
            if exit_with_parent:
                nursery.start_soon(watch_parent)
            await stop.wait()
            await node.controlled_shutdown()
            nursery.cancel_scope.cancel()


async def shut_down_broker_role(services, log) -> None:
    """Move this broker's partition leaderships away (`services`: the node's
    MetadataServices); a failure is logged and the shutdown goes on."""
    try:
        done = await services.shutdown(CONTROLLED_SHUTDOWN_TIMEOUT_MS / 1000)
    except Exception as exc:  # noqa: BLE001 - shutdown goes on regardless
        log.warning("controlled_shutdown_failed", error=repr(exc))
    else:
        log.info("controlled_shutdown", completed=done)


def handover_target(status: RaftStatus) -> int | None:
    """The voter to hand leadership to (`status`: the driver's status of a
    leader): the most caught-up live voter (RaftStatus.is_live). Only live
    voters count: a transfer to a stopped node would just wait out its
    bound (the last node of a cluster being stopped has nobody to hand over
    to)."""
    candidates = [
        (status.peers[i].match_index, i)
        for i in status.live_voters()
        if i != status.node_id and i in status.peers
    ]
    return max(candidates)[1] if candidates else None


async def hand_over_leadership(driver, *, timeout_s: float, log) -> None:
    """If `driver`'s core leads, transfer leadership to `handover_target`
    (at most `timeout_s`); a failure is logged, never raised."""
    st = driver.status()
    if not st.is_leader:
        return
    target = handover_target(st)
    if target is None:
        if any(i != st.node_id for i in st.peers):
            log.info("leadership_handover_skipped", term=st.term, reason="no voter heard from recently")
        return
    log.info("leadership_handover", term=st.term, target=target)
    try:
        await driver.transfer_leadership(target, timeout_s=timeout_s)
        log.info("leadership_handed_over", target=target)
    except RaftError as exc:
        log.warning("leadership_handover_failed", target=target, error=str(exc))


class NodeCrashedError(Exception):
    """The node stopped on an unexpected error; the message names the root
    cause(s) as `Type: message` on one line (the tracebacks are in the log)."""

    code = "NODE_CRASHED"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def root_causes(exc: BaseException) -> list[BaseException]:
    """The leaf exceptions of (nested) exception groups, in order: what a
    crash report must name (trio wraps every task failure in a group)."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in root_causes(inner)]
    return [exc]


def crash_summary(causes: list[BaseException]) -> str:
    """One line naming each root cause as `Type: message`."""
    parts = []
    for cause in causes:
        text = " ".join(str(cause).split())
        parts.append(f"{type(cause).__name__}: {text}" if text else type(cause).__name__)
    return "; ".join(parts)


def report_crash(log, node_id: int, causes: list[BaseException]) -> None:
    """Log one `node_crashed` error event per root cause, traceback included."""
    for cause in causes:
        log.error(
            "node_crashed",
            node_id=node_id,
            error_type=type(cause).__name__,
            error=" ".join(str(cause).split()),
            traceback="".join(traceback.format_exception(cause)),
            causes=len(causes),
        )
