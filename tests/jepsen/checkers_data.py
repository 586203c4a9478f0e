"""Checkers for the data workloads (`queue`, `kafka`). Pure functions of the
history.

Ops (see workload_data.py):
- `send`: invoke value {"key", "value"}; ok value adds the acknowledged
  "partition" and "offset". Values are unique strings.
- `poll` (a consumer; "rebalance" in its ok value lists assignment changes
  applied inside that poll, before its records) and `read` (the final reader; its invoke value has
  "final": true and the "partition"): ok value {"records": [[partition,
  offset, key, value], ...]} in delivery order.
- `assign` / `revoke` (a consumer's assignment changed: a rebalance or a
  manual assign) and `seek`: instantaneous; a consumer's position may jump.
- `commit`: invoke and ok value {"group", "offsets": [[partition, offset]]}.
- `committed` (the final OffsetFetch): ok value {"group", "offsets"}.
Harness events (process "nemesis"): `replica-logs` after healing, with per
partition the HW, the ISR and a digest of each ISR replica's segment bytes
below the HW (`replica_view` in replica_logs.py).

Each checker returns {"valid": True | False | "unknown", ...}. Why each:
- lost: an acknowledged send must be in the final reads.
- duplicated: a value at two offsets (the producer is idempotent: never).
- unexpected: a read value no send ever carried.
- order: within a partition each producer's acknowledged values sit in the
  log in the order they were acknowledged.
- inconsistent-offsets: a (partition, offset) seen with two values, by reads
  or by acknowledgements.
- poll-skip / nonmonotonic-poll: between two deliveries of one partition to
  one consumer (no assign/revoke/seek between) the offset must go up and no
  offset known to hold a record may be jumped over.
- committed-offsets: a group's committed offset of a partition never goes
  backwards (a commit that began after another finished may not be lower;
  the final committed offset is at least every earlier acknowledged commit).
- replica-divergence: every ISR replica's log is byte-identical below the HW
  and holds exactly HW records there.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any

from tests.jepsen.checkers_metadata import check_crashes
from tests.jepsen.history import NEMESIS, Op, pair

EXAMPLES_MAX = 20
SEND, POLL, READ, COMMIT, COMMITTED = "send", "poll", "read", "commit", "committed"
RESETS = frozenset({"assign", "revoke", "seek"})


def _records(op: Op) -> list[tuple[int, int, Any, Any]]:
    if op.type != "ok" or not isinstance(op.result, dict):
        return []
    return [(int(r[0]), int(r[1]), r[2], r[3]) for r in op.result.get("records") or []]


def _is_final(op: Op) -> bool:
    return op.f == READ and isinstance(op.value, dict) and bool(op.value.get("final"))


def _acked(ops: list[Op]) -> list[Op]:
    return [o for o in ops if o.f == SEND and o.type == "ok" and isinstance(o.result, dict)
            and o.result.get("offset") is not None]


def check_lost(ops: list[Op]) -> dict:
    """Acknowledged sends absent from the final reads. A partition whose
    final read did not succeed makes its acknowledged values unknown."""
    read_parts: set[int] = set()
    final_values: set = set()
    finals = [o for o in ops if _is_final(o)]
    for o in finals:
        if o.type == "ok":
            read_parts.add(int(o.value["partition"]))
            final_values.update(r[3] for r in _records(o))
    lost, unknown = [], []
    acked = _acked(ops)
    for o in acked:
        p = int(o.result["partition"])
        if p not in read_parts:
            unknown.append(o.result["value"])
        elif o.result["value"] not in final_values:
            lost.append({"value": o.result["value"], "partition": p, "offset": o.result["offset"],
                         "acked_at": o.complete_time})
    valid: Any = True
    if lost:
        valid = False
    elif unknown or not finals:
        valid = "unknown"
    return {"valid": valid, "acknowledged": len(acked), "final_read_partitions": sorted(read_parts),
            "lost_count": len(lost), "lost": lost[:EXAMPLES_MAX],
            "unknown_count": len(unknown), "unknown": unknown[:EXAMPLES_MAX]}


def _all_reads(ops: list[Op]) -> list[tuple[Op, tuple]]:
    return [(o, r) for o in ops if o.f in (POLL, READ) for r in _records(o)]


def check_duplicated(ops: list[Op]) -> dict:
    """One value seen at two different (partition, offset) places."""
    where: dict[Any, set[tuple[int, int]]] = defaultdict(set)
    for _o, (p, off, _k, v) in _all_reads(ops):
        where[v].add((p, off))
    for o in _acked(ops):
        where[o.result["value"]].add((int(o.result["partition"]), int(o.result["offset"])))
    dups = [{"value": v, "at": sorted(at)} for v, at in where.items() if len(at) > 1]
    return {"valid": not dups, "duplicated_count": len(dups), "duplicated": dups[:EXAMPLES_MAX]}


def check_unexpected(ops: list[Op]) -> dict:
    """Read values that no send ever carried."""
    sent = {o.value.get("value") for o in ops if o.f == SEND and isinstance(o.value, dict)}
    bad = sorted({v for _o, (_p, _off, _k, v) in _all_reads(ops) if v not in sent}, key=str)
    return {"valid": not bad, "unexpected_count": len(bad), "unexpected": bad[:EXAMPLES_MAX]}


def check_inconsistent_offsets(ops: list[Op]) -> dict:
    """(partition, offset) -> more than one value, over reads and acks."""
    seen: dict[tuple[int, int], set] = defaultdict(set)
    for _o, (p, off, _k, v) in _all_reads(ops):
        seen[(p, off)].add(v)
    for o in _acked(ops):
        seen[(int(o.result["partition"]), int(o.result["offset"]))].add(o.result["value"])
    bad = [{"partition": p, "offset": off, "values": sorted(vs, key=str)}
           for (p, off), vs in sorted(seen.items()) if len(vs) > 1]
    return {"valid": not bad, "inconsistent_count": len(bad), "inconsistent": bad[:EXAMPLES_MAX]}


def check_order(ops: list[Op]) -> dict:
    """Per producer (process) and partition, acknowledged values must sit at
    increasing log offsets in acknowledgement order. A value's log offset is
    where the final reads found it, else its acknowledged offset."""
    log_offset: dict[Any, tuple[int, int]] = {}
    for o in ops:
        if _is_final(o):
            for p, off, _k, v in _records(o):
                log_offset[v] = (p, off)
    chains: dict[tuple[Any, int], list[tuple[float, Any, int]]] = defaultdict(list)
    for o in _acked(ops):
        v = o.result["value"]
        p, off = log_offset.get(v, (int(o.result["partition"]), int(o.result["offset"])))
        chains[(o.process, p)].append((o.complete_time, v, off))
    bad = []
    for (process, p), chain in chains.items():
        chain.sort(key=lambda t: t[0])
        for (_t1, v1, o1), (_t2, v2, o2) in zip(chain, chain[1:]):
            if o2 <= o1:
                bad.append({"process": process, "partition": p, "first": [v1, o1], "then": [v2, o2]})
    return {"valid": not bad, "reordered_count": len(bad), "reordered": bad[:EXAMPLES_MAX]}


def _known_offsets(ops: list[Op]) -> dict[int, list[int]]:
    known: dict[int, set[int]] = defaultdict(set)
    for _o, (p, off, _k, _v) in _all_reads(ops):
        known[p].add(off)
    for o in _acked(ops):
        known[int(o.result["partition"])].add(int(o.result["offset"]))
    return {p: sorted(s) for p, s in known.items()}


def check_polls(ops: list[Op]) -> dict:
    """Per consumer process and partition, consecutive deliveries (no
    assign/revoke/seek by that process between) go strictly up, and skip no
    offset that any read or acknowledgement shows holds a record."""
    known = _known_offsets(ops)
    last: dict[tuple[Any, int], tuple[int, float]] = {}
    skips, backwards = [], []
    for o in sorted(ops, key=lambda x: x.complete_time):
        rebalanced = o.f == POLL and isinstance(o.result, dict) and bool(o.result.get("rebalance"))
        if o.f in RESETS or rebalanced:
            for key in [k for k in last if k[0] == o.process]:
                del last[key]
        if o.f != POLL:
            continue
        for p, off, _k, _v in _records(o):
            prev = last.get((o.process, p))
            last[(o.process, p)] = (off, o.complete_time)
            if prev is None:
                continue
            if off <= prev[0]:
                backwards.append({"process": o.process, "partition": p, "from": prev[0], "to": off,
                                  "time": o.complete_time})
                continue
            offs = known.get(p, [])
            i = bisect.bisect_right(offs, prev[0])
            if i < len(offs) and offs[i] < off:
                skips.append({"process": o.process, "partition": p, "from": prev[0], "to": off,
                              "missed": offs[i], "time": o.complete_time})
    return {
        "poll-skip": {"valid": not skips, "skip_count": len(skips), "skips": skips[:EXAMPLES_MAX]},
        "nonmonotonic-poll": {"valid": not backwards, "count": len(backwards),
                              "backwards": backwards[:EXAMPLES_MAX]},
    }


def check_committed(ops: list[Op]) -> dict:
    """Per (group, partition): no acknowledged commit (or final committed
    read) lower than a commit acknowledged before it was invoked."""
    commits: dict[tuple[Any, int], list[tuple[float, float, int, str]]] = defaultdict(list)
    for o in ops:
        if o.type != "ok" or o.f not in (COMMIT, COMMITTED) or not isinstance(o.result, dict):
            continue
        for p, off in o.result.get("offsets") or []:
            if off is None or int(off) < 0:
                continue
            commits[(o.result.get("group"), int(p))].append(
                (o.call_time, o.complete_time, int(off), o.f))
    bad = []
    for (group, p), cs in commits.items():
        done = sorted(cs, key=lambda c: c[1])
        best, best_at, j = -1, None, 0
        for call, _ret, off, f in sorted(cs, key=lambda c: c[0]):
            while j < len(done) and done[j][1] < call:
                if done[j][3] == COMMIT and done[j][2] > best:
                    best, best_at = done[j][2], done[j][1]
                j += 1
            if off < best:
                bad.append({"group": group, "partition": p, "offset": off, "op": f,
                            "invoked": call, "earlier_commit": best, "earlier_at": best_at})
    return {"valid": not bad, "backwards_count": len(bad), "backwards": bad[:EXAMPLES_MAX]}


def check_replicas(events: list[dict]) -> dict:
    """From the `replica-logs` event: ISR replicas identical below the HW."""
    views = [e for e in events if e.get("process") == NEMESIS and e.get("f") == "replica-logs"]
    if not views:
        return {"valid": "unknown", "error": "no replica-logs event (the run did not get that far)"}
    view = views[-1]["value"] or {}
    bad = []
    for part, pv in sorted(view.get("partitions", {}).items()):
        if pv.get("error"):
            bad.append({"partition": part, "error": pv["error"]})
            continue
        hw = pv.get("high_watermark")
        digests = {n: r.get("digest") for n, r in pv.get("replicas", {}).items()}
        counts = {n: r.get("records") for n, r in pv.get("replicas", {}).items()}
        if len(set(digests.values())) > 1 or any(c != hw for c in counts.values()):
            bad.append({"partition": part, "high_watermark": hw, "isr": pv.get("isr"),
                        "digests": digests, "records": counts})
    return {"valid": not bad, "partitions": len(view.get("partitions", {})),
            "divergent": bad[:EXAMPLES_MAX]}


def check_all(events: list[dict], timeout_s: float = 60.0) -> dict:  # noqa: ARG001 - same signature as metadata's
    ops = pair(events)
    out = {
        "lost": check_lost(ops),
        "duplicated": check_duplicated(ops),
        "unexpected": check_unexpected(ops),
        "order": check_order(ops),
        "inconsistent-offsets": check_inconsistent_offsets(ops),
        **check_polls(ops),
        "committed-offsets": check_committed(ops),
        "replica-divergence": check_replicas(events),
    }
    crashes = check_crashes(events)
    if crashes is not None:
        out["crashes"] = crashes
    return out
