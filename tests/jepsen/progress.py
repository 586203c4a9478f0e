"""The run's progress line: elapsed time, ops ok/fail/info, current fault.

On a terminal the line is rewritten in place (\\r) every second; otherwise a
plain line is printed every `plain_interval_s` so CI logs stay short.
"""

from __future__ import annotations

from typing import TextIO

import trio

from tests.jepsen.history import HistoryRecorder


class Progress:
    def __init__(self, history: HistoryRecorder, nemesis, time_limit_s: float, out: TextIO,
                 *, tty_interval_s: float = 1.0, plain_interval_s: float = 10.0) -> None:
        self.history = history
        self.nemesis = nemesis
        self.time_limit_s = time_limit_s
        self.out = out
        self.phase = "workload"
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.interval_s = tty_interval_s if self.tty else plain_interval_s
        self._printed = False

    def line(self) -> str:
        c = self.history.counts
        fault = self.nemesis.current if self.phase == "workload" else self.phase
        return (f"[{self.history.elapsed_s():6.1f}s/{self.time_limit_s:.0f}s] "
                f"ok={c['ok']} fail={c['fail']} info={c['info']} fault: {fault[:70]}")

    def emit(self) -> None:
        if self.tty:
            self.out.write("\r\x1b[K" + self.line())
        else:
            self.out.write(self.line() + "\n")
        self.out.flush()
        self._printed = True

    async def run(self) -> None:
        while True:
            await trio.sleep(self.interval_s)
            self.emit()

    def finish(self) -> None:
        if self._printed and self.tty:
            self.out.write("\n")
            self.out.flush()
