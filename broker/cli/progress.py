"""Throughput on stderr for `rafka produce` and `rafka consume`.

Shown only when a person is watching: stderr and stdout are both terminals
(never when the output is piped into another program or a file), and only
once the run is big enough to be worth it (past `show_after_records`
records or `show_after_s` seconds). One line, redrawn at most every
`interval_s`, finished with a newline. Time comes from an injected clock.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO


class Progress:
    def __init__(self, verb: str, *, err: TextIO | None = None, out: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, interval_s: float = 1.0,
                 show_after_records: int = 1000, show_after_s: float = 2.0) -> None:
        self.verb = verb
        self.err = err if err is not None else sys.stderr
        out = out if out is not None else sys.stdout
        self.enabled = _isatty(self.err) and _isatty(out)
        self.clock = clock
        self.interval_s = interval_s
        self.show_after_records = show_after_records
        self.show_after_s = show_after_s
        self.started = clock()
        self.last_drawn: float | None = None
        self.records = 0
        self.bytes = 0

    def add(self, records: int, nbytes: int) -> None:
        self.records += records
        self.bytes += nbytes
        if not self.enabled:
            return
        now = self.clock()
        elapsed = now - self.started
        if self.records < self.show_after_records and elapsed < self.show_after_s:
            return
        if self.last_drawn is not None and now - self.last_drawn < self.interval_s:
            return
        self.last_drawn = now
        self.err.write("\r" + self.line(now))
        self.err.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        return (f"{self.verb} {self.records} records, {self.records / elapsed:,.0f} records/s, "
                f"{self.bytes / elapsed / (1 << 20):.1f} MiB/s")

    def done(self) -> None:
        if self.enabled and self.last_drawn is not None:
            self.err.write("\r" + self.line(self.clock()) + "\n")
            self.err.flush()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
