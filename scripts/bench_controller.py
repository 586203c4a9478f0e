"""controller: topic creation rate, fence->re-election time, snapshot load.

In one process: a controller and its metadata image with N simulated
brokers heartbeating. Topics are created until the partition target is
reached; each decision's records are encoded into one entry, decoded and
applied to the image, as a committed metadata log would be. Then one broker
misses its session and is fenced: the time from the controller's tick to
every partition it led having a new leader in the image (records decided,
encoded, decoded and applied). Last, the image is written as a snapshot
file and loaded back.

Targets (the issue): 100,000 partitions created within 60 s, all re-elected
within 1,000 ms, snapshot load within 5,000 ms. Last line:
`controller: X partitions/s created, fence->all-reelected Y ms, snapshot-load Z ms`
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import structlog

from rafka.broker.controller import ControllerConfig
from rafka.broker.controller.harness import LocalController
from rafka.broker.metadata import MetadataImage


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--brokers", type=int, default=200)
    p.add_argument("--partitions", type=int, default=100_000, help="total partitions to create")
    p.add_argument("--partitions-per-topic", type=int, default=100)
    p.add_argument("--replication-factor", type=int, default=3)
    p.add_argument("--racks", type=int, default=3, help="0: no racks")
    p.add_argument("--heartbeat-every-topics", type=int, default=10,
                   help="every broker heartbeats after this many topic creations")
    p.add_argument("--seed", type=int, default=1)


def _quiet_logs() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))


def _heartbeat_all(c: LocalController, brokers: list[int]) -> None:
    for n in brokers:
        c.heartbeat(n)


def run(args) -> int:
    _quiet_logs()
    session_ms = 6000
    config = ControllerConfig(
        session_timeout_ms=session_ms,
        cluster_partitions_max=max(args.partitions, 1_000_000),
        preferred_election_interval_ms=10**12,
    )
    c = LocalController(config, seed=args.seed)
    brokers = list(range(1, args.brokers + 1))
    racks = {n: f"rack-{n % args.racks}" for n in brokers} if args.racks else None
    c.add_brokers(brokers, racks)
    assert all(not c.image.brokers[n].fenced for n in brokers)

    # -- create topics -------------------------------------------------------
    per_topic = args.partitions_per_topic
    created, topics = 0, 0
    t0 = time.perf_counter()
    while created < args.partitions:
        count = min(per_topic, args.partitions - created)
        res = c.create_topic(f"bench-{topics:06d}", count, args.replication_factor)
        if res.error_code:
            print(f"create failed: {res.error_code} {res.error_message}")
            return 1
        created += count
        topics += 1
        if topics % args.heartbeat_every_topics == 0:
            c.now_ms += 100
            _heartbeat_all(c, brokers)
    create_s = time.perf_counter() - t0
    rate = created / create_s
    print(f"created {created} partitions in {topics} topics over {args.brokers} brokers "
          f"in {create_s:.2f} s ({len(c.entries)} entries)")

    # -- fence one broker by session timeout ---------------------------------
    victim = max(brokers, key=c.image.leader_count)
    led = c.image.partitions_led_by(victim)
    replica_of = c.image.replica_count(victim)
    c.now_ms += session_ms
    _heartbeat_all(c, [n for n in brokers if n != victim])
    t0 = time.perf_counter()
    records = c.tick()  # decide, encode, commit, decode, apply
    fence_ms = (time.perf_counter() - t0) * 1000
    for topic_id, p in led:
        s = c.image.partition(topic_id, p)
        if s is None or s.leader is None or s.leader == victim:
            print(f"partition {topic_id}-{p} was not re-elected")
            return 1
    if not c.image.brokers[victim].fenced:
        print("victim not fenced")
        return 1
    print(f"fenced broker {victim}: it led {len(led)} and replicated {replica_of} partitions; "
          f"{len(records)} records in one entry, re-elected in {fence_ms:.1f} ms")

    # -- snapshot write and load ---------------------------------------------
    with tempfile.TemporaryDirectory(prefix="rafka-bench-") as tmp:
        path = os.path.join(tmp, "metadata.snapshot")
        t0 = time.perf_counter()
        data = c.image.to_snapshot()
        with open(path, "wb") as f:
            f.write(data)
        write_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        with open(path, "rb") as f:
            loaded = MetadataImage.from_snapshot(f.read())
        load_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    digest = c.image.digest()
    digest_ms = (time.perf_counter() - t0) * 1000
    if loaded.digest() != digest or loaded.partition_count != c.image.partition_count:
        print("snapshot does not reproduce the image")
        return 1
    print(f"snapshot {len(data) / 1e6:.1f} MB written in {write_ms:.0f} ms; "
          f"full digest {digest_ms:.0f} ms")
    ok = create_s <= 60 and fence_ms <= 1000 and load_ms <= 5000
    print(f"targets (create <= 60 s, re-elect <= 1000 ms, load <= 5000 ms): "
          f"{'met' if ok else 'MISSED'}")
    print(f"controller: {rate:.0f} partitions/s created, fence->all-reelected {fence_ms:.0f} ms, "
          f"snapshot-load {load_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
