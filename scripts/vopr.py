#!/usr/bin/env python3
"""VOPR: replay or soak the deterministic Raft simulator (tests/sim).

    python scripts/vopr.py --seed 42 [--trace]       replay one seed
    python scripts/vopr.py --seeds 5000 [--start K]  soak seeds K..K+N-1
    options: --storage memory|disk (disk: the real DiskStorage over a file
             layer that loses what was not fsynced at every crash),
             --nodes 3|5 (default: alternate by seed), --events N,
             --time-limit S (soak: stop starting new seeds after S seconds),
             --trace-lines N

Every run is a pure function of its seed (and options), so a failing seed
printed by a soak replays exactly here. Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from tests.sim.cluster import SimConfig, SimFailure, Simulation  # noqa: E402


def make_config(args, seed: int) -> SimConfig:
    nodes = args.nodes if args.nodes else (3 if seed % 2 else 5)
    return SimConfig(
        nodes=nodes,
        events_max=args.events,
        trace_events_max=args.trace_lines,
        storage=args.storage,
    )


def run_one(args, seed: int, echo=None):
    """Run one seed; returns (result or None, failure or None)."""
    try:
        return Simulation(seed, make_config(args, seed), echo=echo).run(), None
    except SimFailure as failure:
        return None, failure


def replay(args) -> int:
    echo = print if args.trace else None
    result, failure = run_one(args, args.seed, echo)
    if failure is not None:
        print(failure)
        print(f"FAIL seed={args.seed} invariant={failure.invariant!r}")
        return 1
    print(
        f"ok seed={result.seed} nodes={result.nodes} events={result.events} "
        f"time_ms={result.time_ms} leaders={result.leaders} linearizable={result.linearizable} "
        f"ops={result.ops} faults={result.faults}"
    )
    return 0


def soak(args) -> int:
    started = time.monotonic()
    failures: list[tuple[int, SimFailure]] = []
    done = 0
    events = 0
    unknown = 0  # histories the linearizability checker could not decide in time
    for seed in range(args.start, args.start + args.seeds):
        if args.time_limit and time.monotonic() - started > args.time_limit:
            print(f"time limit {args.time_limit}s reached")
            break
        result, failure = run_one(args, seed)
        done += 1
        if failure is not None:
            failures.append((seed, failure))
            print(f"FAIL seed={seed} invariant={failure.invariant!r}: {failure.detail}", flush=True)
            if len(failures) == 1 or args.verbose:
                print(failure, flush=True)
        else:
            events += result.events
            unknown += result.linearizable is None
        if done % args.progress_every == 0:
            elapsed = time.monotonic() - started
            print(f"{done} seeds, {len(failures)} failures, {done / elapsed:.1f} seeds/s", flush=True)
    elapsed = max(time.monotonic() - started, 1e-9)
    print(
        f"storage={args.storage} seeds={done} start={args.start} failures={len(failures)} lin_unknown={unknown} "
        f"seconds={elapsed:.1f} seeds/s={done / elapsed:.1f} events/s={events / elapsed:.0f}"
    )
    if failures:
        print("failing seeds: " + " ".join(str(s) for s, _ in failures))
        return 1
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--seed", type=int, help="replay one seed")
    group.add_argument("--seeds", type=int, help="soak this many seeds")
    parser.add_argument("--start", type=int, default=0, help="first seed of a soak")
    parser.add_argument("--nodes", type=int, choices=(3, 5), default=None)
    parser.add_argument("--storage", choices=("memory", "disk"), default="memory",
                        help="memory: MemoryStorage is the disk; disk: DiskStorage over tests/sim/crashfs.py")
    parser.add_argument("--events", type=int, default=SimConfig.events_max, help="events of the fault phase")
    parser.add_argument("--trace", action="store_true", help="print every event of a replay")
    parser.add_argument("--trace-lines", type=int, default=SimConfig.trace_events_max,
                        help="trace lines printed on failure")
    parser.add_argument("--time-limit", type=float, default=None, help="soak: seconds before stopping")
    parser.add_argument("--progress-every", type=int, default=500)
    parser.add_argument("--verbose", action="store_true", help="soak: print every failure's trace")
    args = parser.parse_args(argv)
    if args.seed is not None:
        return replay(args)
    return soak(args)


if __name__ == "__main__":
    sys.exit(main())
