#!/usr/bin/env python3
"""Benchmarks, one subcommand per figure.

Each subcommand measures its baseline in the same run and prints its figure
last as `NAME: VALUE UNIT (ratio R vs BASELINE)`. Benchmarks are not tests.
The subcommands live in scripts/bench_<name>.py, each exposing
`add_arguments(parser)` and `run(args) -> int`.

`--json-out FILE` (before the subcommand) also writes the figures as JSON:
every `NAME: VALUE UNIT ...` line the run printed, parsed
({"name", "value", "unit", "ratio", "baseline", "line"}), the last one as
"figure".
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SUBCOMMANDS = ("log", "raft", "failover", "controller", "kafka-requests", "produce", "consume",
               "partition-failover", "group", "memory")


FIGURE = re.compile(r"^(?P<name>[a-z][\w-]*): (?P<value>[-\d.,]+) (?P<unit>[^(,]+?)(?=\s*[,(]|\s*$)")
RATIO = re.compile(r"\(ratio (?P<ratio>[-\w.]+) vs (?P<baseline>[^)]+)\)")


class Tee(io.TextIOBase):
    """Writes through to `stream` and keeps every complete line."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.lines: list[str] = []
        self._partial = ""

    def write(self, text: str) -> int:
        self.stream.write(text)
        self._partial += text
        *done, self._partial = self._partial.split("\n")
        self.lines.extend(done)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def parse_figures(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        m = FIGURE.match(line.strip())
        if m is None:
            continue
        r = RATIO.search(line)
        ratio = r.group("ratio") if r else None
        out.append({
            "name": m.group("name"), "value": float(m.group("value").replace(",", "")),
            "unit": m.group("unit").strip(), "ratio": None if ratio in (None, "nan") else float(ratio),
            "baseline": r.group("baseline") if r else None, "line": line.strip(),
        })
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__.splitlines()[0])
    parser.add_argument("--json-out", default=None, metavar="FILE", help="also write the figures as JSON")
    sub = parser.add_subparsers(dest="name", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"bench_{name.replace('-', '_')}")
        p = sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    args = parser.parse_args(argv)
    if args.json_out is None:
        return args.run(args)
    tee = Tee(sys.stdout)
    sys.stdout = tee
    try:
        code = args.run(args)
    finally:
        sys.stdout = tee.stream
    figures = parse_figures(tee.lines)
    with open(args.json_out, "w") as f:
        json.dump({"benchmark": args.name, "exit_code": code, "figures": figures,
                   "figure": figures[-1] if figures else None}, f, indent=2)
    return code


if __name__ == "__main__":
    sys.exit(main())
