"""The node processes of `rafka quorum up`: start, watch, stop, reap.

Every child is started in its own session with `--exit-with-parent` (so a
killed supervisor never leaves nodes behind) and is always reaped: stop_all
sends SIGTERM, waits a bounded time, then kill -9.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from rafka.broker.node.quorum_layout import QuorumLayout


class Children:
    """The node processes of `quorum up`, by node id; every one is reaped."""

    def __init__(self, layout: QuorumLayout) -> None:
        self.layout = layout
        self.procs: dict[int, subprocess.Popen] = {}
        self.restarts: dict[int, int] = {i: 0 for i in layout.ids}

    def start(self, i: int) -> None:
        cmd = [
            sys.executable, "-m", "rafka.broker.cli", "node", "start",
            "--config", str(self.layout.config_path(i)),
            "--no-terminal-log", "--exit-with-parent",
        ]  # fmt: skip
        # node.out holds only fatal start-up errors (logs go to logs/node.jsonl).
        with open(self.layout.node_dir(i) / "node.out", "wb") as out:
            self.procs[i] = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def dead(self) -> list[tuple[int, int]]:
        return [(i, p.returncode) for i, p in self.procs.items() if p.poll() is not None]

    def stop_all(self, timeout_s: float) -> None:
        """SIGTERM every node, wait up to timeout_s, then kill -9 the rest."""
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
