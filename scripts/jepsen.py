#!/usr/bin/env python3
"""Jepsen-style fault tests against real rafka node processes.

Runs a workload against an N-node cluster whose every link goes through a
fault-injecting proxy while a nemesis breaks things on a seeded schedule;
then heals, waits a quiet period, does final reads and checks the history.
Writes DIR/history.jsonl, results.json, summary.txt and latency.png, prints a
one-line verdict last and exits 0 only when the history is valid (1 invalid,
2 the harness could not run).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.jepsen.fuse.control import unavailable_reason  # noqa: E402
from tests.jepsen.nemesis import (  # noqa: E402
    FAMILIES,
    KIND_ORDERS,
    KINDS,
    NemesisError,
    ordered_min_time_limit_s,
    parse_nemeses,
)
from tests.jepsen.plot import PlotDependencyError, require_matplotlib  # noqa: E402
from tests.jepsen.runner import (  # noqa: E402
    WORKLOADS,
    RunError,
    RunOptions,
    check_dir,
    run,
    verdict_line,
)


def _range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition(",")
    try:
        a, b = float(lo), float(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI seconds, got {text!r}") from None
    if not 0 < a <= b:
        raise argparse.ArgumentTypeError(f"need 0 < LO <= HI, got {text!r}")
    return a, b


def build_parser() -> argparse.ArgumentParser:
    workloads = "; ".join(f"{k}: {v}" for k, v in WORKLOADS.items())
    nemeses = ", ".join(list(FAMILIES) + list(KINDS))
    p = argparse.ArgumentParser(
        prog="jepsen.py",
        description=__doc__.splitlines()[0],
        epilog=f"workloads: {workloads}. nemeses (comma-separated): {nemeses}.",
    )
    p.add_argument("--workload", default="metadata", choices=sorted(WORKLOADS))
    p.add_argument("--nemesis", default="all", help="comma-separated nemeses (default: all)")
    p.add_argument("--schedule", default="random", choices=KIND_ORDERS,
                   help="random: each fault window a random one of the nemeses (default); "
                        "ordered: the nemeses in the order named, cycling, each sure to get a "
                        "window (a too short --time-limit is refused)")
    p.add_argument("--time-limit", type=float, default=60.0, help="workload seconds (default 60)")
    p.add_argument("--rate", type=float, default=50.0, help="ops per second, all clients (default 50)")
    p.add_argument("--concurrency", type=int, default=5, help="client workers (default 5)")
    p.add_argument("--nodes", type=int, default=3, help="cluster size (default 3)")
    p.add_argument("--seed", type=int, default=None, help="seed for schedule and ops (default: random)")
    p.add_argument("--out", default=None, help="run directory (default: a new temp dir)")
    p.add_argument("--quiet", type=float, default=5.0, help="quiet seconds after healing (default 5)")
    p.add_argument("--fault-s", type=_range, default=(5.0, 15.0), help="fault window LO,HI s (5,15)")
    p.add_argument("--heal-s", type=_range, default=(5.0, 15.0), help="heal window LO,HI s (5,15)")
    p.add_argument("--op-timeout", type=float, default=5.0, help="per-op client deadline s (5)")
    p.add_argument("--partitions", type=int, default=6, help="data workloads: topic partitions (6)")
    p.add_argument("--consumers", type=int, default=3, help="kafka workload: consumers (3)")
    p.add_argument("--check", metavar="DIR", default=None,
                   help="only re-run the checkers on DIR/history.jsonl and rewrite the verdict")
    return p


def _log_to(path: Path) -> None:
    """Harness logs go to a file so stdout ends with the verdict line."""
    import structlog

    fh = open(path, "a", encoding="utf-8")  # lives as long as the process
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso"),
                    structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(file=fh),
    )


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    """The harness raises one error at a time; unwrap trio's groups."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:  # a run and --check both write latency.png: a missing plot is an error
        require_matplotlib()
    except PlotDependencyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        out = Path(args.check)
        if not (out / "history.jsonl").exists():
            print(f"error: no history.jsonl in {out}", file=sys.stderr)
            return 2
        results = check_dir(out)
        print(verdict_line(results, out))
        return 0 if results["valid"] else 1
    try:
        nemeses = parse_nemeses(args.nemesis, keep_order=args.schedule == "ordered")
    except NemesisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    need_s = ordered_min_time_limit_s(len(nemeses), args.fault_s, args.heal_s)
    if args.schedule == "ordered" and args.time_limit < need_s:
        print(f"error: --schedule ordered with {len(nemeses)} nemeses needs --time-limit >= "
              f"{need_s:g} (fault windows {args.fault_s}, heal windows {args.heal_s})",
              file=sys.stderr)
        return 2
    if any(k.startswith("lose-unfsynced") for k in nemeses) and (reason := unavailable_reason()):
        print(f"error: nemesis lose-unfsynced refused: {reason}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else int(time.time() * 1000) % 1_000_000
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix=f"jepsen-{seed}-"))
    opts = RunOptions(out=out, workload=args.workload, nemeses=nemeses, schedule=args.schedule,
                      time_limit_s=args.time_limit, rate=args.rate, nodes=args.nodes, seed=seed,
                      concurrency=args.concurrency, quiet_s=args.quiet, fault_s=args.fault_s,
                      heal_s=args.heal_s, op_timeout_s=args.op_timeout,
                      partitions=args.partitions, consumers=args.consumers)
    out.mkdir(parents=True, exist_ok=True)
    _log_to(out / "harness.log")
    print(f"jepsen: workload={args.workload} nemesis={args.nemesis} seed={seed} out={out}",
          file=sys.stderr)
    import signal

    import trio

    def _terminated(signum, frame):  # a SIGTERM (e.g. timeout(1)) cleans up like ^C,
        os.kill(os.getpid(), signal.SIGINT)  # through trio's own KeyboardInterrupt handling

    signal.signal(signal.SIGTERM, _terminated)
    try:
        try:
            results = trio.run(run, opts)
        except BaseExceptionGroup as group:
            raise _first_leaf(group) from group
    except RunError as exc:
        print(f"error: {exc} (seed={seed}, out={out})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted (seed={seed}, out={out})", file=sys.stderr)
        return 130
    print((out / "summary.txt").read_text(), end="", file=sys.stderr)
    print(verdict_line(results, out) + f" seed={seed}")
    return 0 if results["valid"] else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: interpreter shutdown would destroy the librdkafka handles
    # a stuck client thread is still inside (kafka_client.keep_until_exit),
    # and such a destroy can hang the process after its verdict is written.
    os._exit(code)
