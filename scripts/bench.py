#!/usr/bin/env python3
"""Benchmarks, one subcommand per figure.

Each subcommand measures its baseline in the same run and prints its figure
last as `NAME: VALUE UNIT (ratio R vs BASELINE)`. Benchmarks are not tests.
The subcommands live in scripts/bench_<name>.py, each exposing
`add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SUBCOMMANDS = ("log", "raft", "failover", "controller", "kafka-requests", "produce", "consume",
               "partition-failover")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="name", required=True)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"bench_{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench_{name.replace('-', '_')}":
                continue
            raise
        p = sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
