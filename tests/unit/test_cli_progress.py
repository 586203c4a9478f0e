"""Throughput lines on stderr: only for a person at a terminal, only for big runs."""

from __future__ import annotations

import io


from rafka.broker.cli.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_shown_on_a_terminal_after_enough_records_at_most_once_per_interval():
    """Goal: nothing for a small run; past the threshold one redrawn line per
    interval with the record rate; a final line ends with a newline."""
    err, clock = Tty(), Clock()
    p = Progress("produced", err=err, out=Tty(), clock=clock, interval_s=1.0, show_after_records=100)
    p.add(50, 5000)
    assert err.getvalue() == ""
    clock.t += 0.5
    p.add(60, 6000)
    assert err.getvalue().count("\r") == 1 and "produced 110 records" in err.getvalue()
    p.add(10, 1000)  # within the interval: not redrawn
    assert err.getvalue().count("\r") == 1
    clock.t += 1.0
    p.add(30, 3000)
    assert err.getvalue().count("\r") == 2 and "150 records, 100 records/s" in err.getvalue()
    p.done()
    assert err.getvalue().endswith("\n")


def test_never_shown_when_output_is_piped():
    """Goal: stdout or stderr not a terminal (a pipe, a file): never a line."""
    for err, out in ((io.StringIO(), Tty()), (Tty(), io.StringIO())):
        clock = Clock()
        p = Progress("consumed", err=err, out=out, clock=clock, show_after_records=1)
        clock.t += 10
        p.add(10_000, 1 << 20)
        p.done()
        assert err.getvalue() == ""
