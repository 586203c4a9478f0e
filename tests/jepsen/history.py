"""The history format: one JSON object per line, Jepsen style.

Each line: {"index", "process", "type", "f", "value", "time"} plus optional
"error" (an error code name on fail/info) and "detail" (its message) where
- process: an int client process, or "nemesis" for fault events;
- type: "invoke", then exactly one of "ok" (it happened, with its result),
  "fail" (it surely did not happen) or "info" (unknown: it may have);
- time: seconds since the start of the run (float, monotonic clock).

Why a process per outstanding op: after an `info` the client cannot know what
happened, so (as in Jepsen) that process is retired and the worker continues
as a fresh process id; each process therefore has at most one op in flight,
which is what `pair` relies on. An invoke without a completion (the run ended
first) pairs as `info`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

TYPES = ("invoke", "ok", "fail", "info")
NEMESIS = "nemesis"
DETAIL_CHARS_MAX = 200  # an error's message, kept short in the history


class HistoryError(ValueError):
    """A malformed history line or an impossible sequence of events."""


class HistoryRecorder:
    """Appends events in memory (bounded by `events_max`) and, when given a
    file, writes each as one line immediately so a crashed run still leaves a
    usable history. `clock` returns seconds (e.g. trio.current_time)."""

    def __init__(self, clock: Callable[[], float], out: TextIO | None = None,
                 *, events_max: int = 2_000_000) -> None:
        self._clock = clock
        self._start = clock()
        self._out = out
        self.events_max = events_max
        self.events: list[dict] = []
        self.counts = {t: 0 for t in TYPES}

    def reset_origin(self) -> None:
        """Start the clock now (only before the first event): time 0 is the
        start of the workload, not of the cluster's boot."""
        if self.events:
            raise HistoryError("cannot move the time origin of a non-empty history")
        self._start = self._clock()

    def elapsed_s(self) -> float:
        return self._clock() - self._start

    def _append(self, event: dict) -> dict:
        if len(self.events) >= self.events_max:
            raise HistoryError(f"history is full ({self.events_max} events)")
        event["index"] = len(self.events)
        event["time"] = round(self.elapsed_s(), 6)
        self.events.append(event)
        if event["process"] != NEMESIS:
            self.counts[event["type"]] += 1
        if self._out is not None:
            self._out.write(json.dumps(event, sort_keys=True) + "\n")
        return event

    def invoke(self, process: Any, f: str, value: Any) -> dict:
        return self._append({"process": process, "type": "invoke", "f": f, "value": value})

    def complete(self, process: Any, type_: str, f: str, value: Any,
                 error: str | None = None, detail: str | None = None) -> dict:
        if type_ not in ("ok", "fail", "info"):
            raise HistoryError(f"bad completion type {type_!r}")
        event = {"process": process, "type": type_, "f": f, "value": value}
        if error:
            event["error"] = error
        if detail:
            event["detail"] = detail[:DETAIL_CHARS_MAX]
        return self._append(event)

    def nemesis(self, f: str, value: Any) -> dict:
        return self._append({"process": NEMESIS, "type": "info", "f": f, "value": value})

    def flush(self) -> None:
        if self._out is not None:
            self._out.flush()


def _validate(event: Any, lineno: int) -> dict:
    if not isinstance(event, dict):
        raise HistoryError(f"line {lineno}: expected a JSON object")
    for key in ("process", "type", "f", "time"):
        if key not in event:
            raise HistoryError(f"line {lineno}: missing {key!r}")
    if event["type"] not in TYPES:
        raise HistoryError(f"line {lineno}: bad type {event['type']!r}")
    if not isinstance(event["time"], (int, float)) or isinstance(event["time"], bool):
        raise HistoryError(f"line {lineno}: time must be a number")
    event.setdefault("value", None)
    return event


def parse_lines(lines: Iterable[str]) -> list[dict]:
    events = []
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HistoryError(f"line {lineno}: not JSON: {exc.msg}") from None
        events.append(_validate(raw, lineno))
    return events


def load(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return parse_lines(fh)


def dump(events: Iterable[dict], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e, sort_keys=True) + "\n")


@dataclass(frozen=True)
class Op:
    """An invoke paired with its completion. For `info`, `return_time` is
    math.inf (the op may take effect at any later time); `result` is the
    completion's value (None for info/fail unless recorded)."""

    process: Any
    f: str
    value: Any
    type: str
    result: Any
    call_time: float
    return_time: float
    complete_time: float
    error: str | None = None

    @property
    def latency_s(self) -> float:
        return self.complete_time - self.call_time


def pair(events: Iterable[dict]) -> list[Op]:
    """Pair client invokes with completions (nemesis events are skipped).
    Raises HistoryError on a completion without an invoke or a second invoke
    by a busy process."""
    open_: dict[Any, dict] = {}
    ops: list[Op] = []
    last_time = 0.0
    for e in events:
        if e["process"] == NEMESIS:
            continue
        last_time = max(last_time, e["time"])
        p = e["process"]
        if e["type"] == "invoke":
            if p in open_:
                raise HistoryError(f"process {p} invoked twice without completing")
            open_[p] = e
            continue
        inv = open_.pop(p, None)
        if inv is None:
            raise HistoryError(f"completion without invoke for process {p}: {e}")
        if e["f"] != inv["f"]:
            raise HistoryError(f"process {p}: completion f {e['f']!r} != invoke f {inv['f']!r}")
        ret = math.inf if e["type"] == "info" else e["time"]
        ops.append(Op(p, inv["f"], inv.get("value"), e["type"], e.get("value"),
                      inv["time"], ret, e["time"], e.get("error")))
    for p, inv in open_.items():
        ops.append(Op(p, inv["f"], inv.get("value"), "info", None, inv["time"], math.inf,
                      last_time, "no completion"))
    ops.sort(key=lambda o: o.call_time)
    return ops


def fault_windows(events: Iterable[dict]) -> list[dict]:
    """[{start, end, fault}] from the nemesis's "start"/"stop" events."""
    windows: list[dict] = []
    current: dict | None = None
    last_time = 0.0
    for e in events:
        last_time = max(last_time, e["time"])
        if e["process"] != NEMESIS:
            continue
        if e["f"] == "start":
            current = {"start": e["time"], "end": None, "fault": str(e.get("value"))}
            windows.append(current)
        elif e["f"] == "stop" and current is not None:
            current["end"] = e["time"]
            current = None
    for w in windows:
        if w["end"] is None:
            w["end"] = last_time
    return windows


def counts(events: Iterable[dict]) -> dict[str, int]:
    """Client ops by outcome (an invoke never completed counts as info)."""
    out = {"ok": 0, "fail": 0, "info": 0}
    for op in pair(events):
        out[op.type] += 1
    return out
