"""Readable event trace for simulator runs.

Why: a failing seed is only useful if a human can see what led up to the
violation. Every simulator event is recorded as one line (time, node, event,
summary) in a bounded ring (`events_max`); on failure the last lines are
printed together with the seed and the violated invariant. With `echo` set,
every line is also printed as it happens (vopr --trace).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, deque
from typing import Any, Callable


def summarize(msg: Any) -> str:
    """One-line summary of a Raft message: its type and its scalar fields,
    with lists, dicts and bytes shown by size (entries as `index:term` ranges)."""
    name = type(msg).__name__
    if not dataclasses.is_dataclass(msg):
        return f"{name} {msg!r}"[:160]
    parts = []
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        parts.append(f"{f.name}={_short(value)}")
    return f"{name} " + " ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)}B>"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        first, last = value[0], value[-1]
        if hasattr(first, "index") and hasattr(first, "term") and not isinstance(first, (list, tuple)):
            return f"[{first.index}:{first.term}..{last.index}:{last.term}]"
        if len(value) <= 5 and all(isinstance(v, (int, str)) for v in value):
            return "[" + ",".join(map(str, value)) + "]"
        return f"[{len(value)} items]"
    if isinstance(value, dict):
        return f"{{{len(value)} keys}}"
    if dataclasses.is_dataclass(value):
        inner = " ".join(f"{f.name}={_short(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return f"({inner})"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclasses.dataclass
class TraceLine:
    time_ms: int
    node: int | None
    event: str
    detail: Any  # a str, or a message summarized only when rendered (cheap runs)

    def render(self) -> str:
        node = f"n{self.node}" if self.node is not None else "--"
        detail = self.detail if isinstance(self.detail, str) else summarize(self.detail)
        return f"t={self.time_ms:>7} {node:>4} {self.event:<14} {detail}"


class Trace:
    """Bounded ring of trace lines; `events_max` bounds memory per run."""

    def __init__(self, events_max: int = 200, echo: Callable[[str], None] | None = None):
        if events_max < 1:
            raise ValueError("events_max must be >= 1")
        self.lines: deque[TraceLine] = deque(maxlen=events_max)
        self.echo = echo
        self.count = 0
        # events by name (and delivered messages by type): run coverage
        self.tally: Counter[str] = Counter()

    def add(self, time_ms: int, node: int | None, event: str, detail: Any = "") -> None:
        """Record one event; a non-str `detail` (a message) is summarized lazily."""
        line = TraceLine(time_ms, node, event, detail)
        self.lines.append(line)
        self.count += 1
        self.tally[event if isinstance(detail, str) else type(detail).__name__] += 1
        if self.echo is not None:
            self.echo(line.render())

    def render(self, last: int | None = None) -> str:
        lines = list(self.lines)
        if last is not None:
            lines = lines[-last:]
        return "\n".join(line.render() for line in lines)
