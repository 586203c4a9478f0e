"""The supervisor of `rafka quorum up`: start the nodes, wait for a ready
quorum, print `ready bootstrap=...` once, then a status line every
interval, restart dead nodes, and stop them all on SIGINT/SIGTERM.

Restart policy: a child that dies unexpectedly is announced on one line and
restarted (its data directory keeps its log), at most `args.restarts_max`
times per node; past that the supervisor returns 1 and every node is stopped.
Where nodes live: quorum_layout.py; the processes: quorum_children.py; when
the quorum is ready: quorum_ready.py. The CLI wiring (argument parsing, port
checks, the root lock) stays in broker/cli/quorum_cmd.py.
"""

from __future__ import annotations

import signal

from rafka.broker.node.quorum_children import Children
from rafka.broker.node.quorum_layout import PEER_PORT_OFFSET, QuorumLayout
from rafka.broker.node.quorum_ready import brokers_ready_now, quorum_ready, status_line

__all__ = ["PEER_PORT_OFFSET", "QuorumLayout", "run_quorum_up"]


def _say(line: str) -> None:
    print(line, flush=True)


async def run_quorum_up(layout: QuorumLayout, args) -> int:
    import trio

    from rafka.broker.client.node_client import quorum_status

    children = Children(layout)
    # rafka's own questions go to the peer listeners, naming the cluster id
    # that prepare() wrote into every node's meta.properties.
    bootstrap = [layout.peer_address(i) for i in layout.ids]
    cluster_id = layout.shared_cluster_id()
    code = 0
    try:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:

                async def on_signal() -> None:
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
                        return

                nursery.start_soon(on_signal)
                _say(f"starting {len(layout.ids)} nodes under {layout.root}")
                for i in layout.ids:
                    children.start(i)
                    _say(f"node {i} pid={children.procs[i].pid}")
                for i in layout.ids:
                    _say(f"metrics node-{i} {layout.metrics_url(i)}")
                code = await _supervise(layout, args, children, bootstrap, cluster_id, quorum_status)
                nursery.cancel_scope.cancel()
    finally:
        _say("stopping nodes")
        children.stop_all(args.stop_timeout_s)
        _say("stopped")
    return code


async def _supervise(layout, args, children: Children, bootstrap, cluster_id, quorum_status) -> int:
    """Wait for ready, then print status and watch children until cancelled."""
    import trio

    ready = False
    started = trio.current_time()
    last_line = -1e9
    while True:
        for i, returncode in children.dead():
            children.restarts[i] += 1
            if children.restarts[i] > args.restarts_max:
                _say(f"node {i} exited unexpectedly (code {returncode}); giving up")
                return 1
            _say(f"node {i} exited unexpectedly (code {returncode}); restarting it")
            children.start(i)
            _say(f"node {i} pid={children.procs[i].pid}")
        try:
            with trio.fail_after(2.0):
                status = await quorum_status(bootstrap, cluster_id, 2.0)
        except Exception:  # noqa: BLE001 - a quorum that does not answer yet
            status = None
        now = trio.current_time()
        if not ready:
            if (
                status is not None
                and quorum_ready(status, layout.ids)
                and await brokers_ready_now(bootstrap, cluster_id, layout.ids)
            ):
                ready = True
                _say(f"ready bootstrap={layout.bootstrap}")
                last_line = now
            elif now - started > args.ready_timeout_s:
                _say(f"no ready quorum after {args.ready_timeout_s:g}s; see {layout.root}")
                return 1
        elif now - last_line >= args.status_interval_s:
            _say(status_line(status) if status else "status unavailable (no leader answered)")
            last_line = now
        await trio.sleep(0.2 if not ready else 0.5)
