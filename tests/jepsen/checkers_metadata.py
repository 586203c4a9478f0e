"""Checkers for the `metadata` workload. Pure functions of the history.

Ops (see workload_metadata.py): `create`/`delete` (value: topic name),
`list` (ok value: list of names; final reads carry value {"final": true}),
`write`/`read` (value [topic, config value]). Harness events (process
"nemesis") include `node-status` with each node's metadata offset and image
digest after healing.

Each checker returns {"valid": True | False | "unknown", ...details}. Why each:
- topics: an acknowledged create must survive (present in the final reads)
  unless a delete of it may have happened (ok or info); an acknowledged
  delete must stay deleted; no list may show a name no client ever tried to
  create (a phantom) or show a name twice.
- topics-linearizable: each topic name is a register of existence; creates,
  deletes and every list (a read of that register) must be linearizable. This
  catches stale lists (a read served by a deposed leader).
- registers: each config register (write/read) must be linearizable.
- convergence: after healing, every node reports the same metadata offset
  and image digest.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from tests.checkers.linearizability import Model, Operation, check, register_model
from tests.jepsen.history import NEMESIS, Op, pair

INTERNAL_PREFIX = "__"  # Kafka-style internal topics are not the workload's
ALREADY_EXISTS = "TOPIC_ALREADY_EXISTS"
UNKNOWN_TOPIC = "UNKNOWN_TOPIC_OR_PARTITION"
EXAMPLES_MAX = 20  # names/ops shown per problem in a report


def _is_final(op: Op) -> bool:
    return isinstance(op.value, dict) and bool(op.value.get("final"))


def _names(result: Any) -> list[str]:
    if not isinstance(result, list):
        return []
    return [n for n in result if isinstance(n, str) and not n.startswith(INTERNAL_PREFIX)]


def check_topics(ops: list[Op]) -> dict:
    """Lost acknowledged creates, resurrected deletes, phantoms, duplicates."""
    attempted: dict[str, float] = {}  # name -> earliest create invoke
    created_ok: set[str] = set()
    maybe_deleted: set[str] = set()
    deleted_ok: set[str] = set()
    for op in ops:
        if op.f == "create":
            attempted[op.value] = min(attempted.get(op.value, math.inf), op.call_time)
            if op.type == "ok" or (op.type == "fail" and op.error == ALREADY_EXISTS):
                created_ok.add(op.value)
        elif op.f == "delete":
            if op.type in ("ok", "info"):
                maybe_deleted.add(op.value)
            if op.type == "ok":
                deleted_ok.add(op.value)
    phantoms: dict[str, float] = {}
    duplicates: list[dict] = []
    for op in ops:
        if op.f != "list" or op.type != "ok":
            continue
        names = _names(op.result)
        if len(names) != len(set(names)):
            duplicates.append({"time": op.complete_time, "process": op.process})
        for name in names:
            first = attempted.get(name)
            # a name may appear only once a create of it has been invoked
            if first is None or first > op.complete_time:
                phantoms.setdefault(name, op.complete_time)
    finals = [op for op in ops if op.f == "list" and _is_final(op) and op.type == "ok"]
    result: dict[str, Any] = {
        "attempted": len(attempted),
        "acknowledged": len(created_ok),
        "final_reads": len(finals),
        "phantoms": sorted(phantoms)[:EXAMPLES_MAX],
        "phantom_count": len(phantoms),
        "duplicate_lists": duplicates[:EXAMPLES_MAX],
    }
    problems = bool(phantoms or duplicates)
    if not finals:
        result["valid"] = False if problems else "unknown"
        result["error"] = "no final read succeeded"
        return result
    lost: set[str] = set()
    resurrected: set[str] = set()
    disagree = False
    first_view = set(_names(finals[0].result))
    for fin in finals:
        view = set(_names(fin.result))
        disagree |= view != first_view
        lost |= {n for n in created_ok - maybe_deleted if n not in view}
        resurrected |= {n for n in deleted_ok if n in view}
    result.update({
        "lost": sorted(lost)[:EXAMPLES_MAX],
        "lost_count": len(lost),
        "resurrected": sorted(resurrected)[:EXAMPLES_MAX],
        "resurrected_count": len(resurrected),
        "final_reads_disagree": disagree,
    })
    result["valid"] = not (problems or lost or resurrected or disagree)
    return result


# --- linearizability of topic existence -------------------------------------

def _exists_step(state: bool, inp: tuple, out: Any) -> tuple[bool, bool]:
    f = inp[0]
    if f == "create":
        if out is None:
            return True, True
        if out == "ok":
            return not state, True
        return state, state  # TOPIC_ALREADY_EXISTS: a read that saw it
    if f == "delete":
        if out is None:
            return True, False
        if out == "ok":
            return state, False
        return not state, state  # UNKNOWN_TOPIC: a read that saw it absent
    if f == "list":
        return (out is None or out == state), state
    raise ValueError(f"unknown op {f!r}")


EXISTENCE_MODEL = Model(
    init=lambda: False,
    step=_exists_step,
    describe=lambda inp, out: f"{inp[0]} {inp[1]} -> {'?' if out is None else out}",
    name="topic-existence",
)


def existence_histories(ops: list[Op]) -> dict[str, list[Operation]]:
    """One sub-history per topic name, with every list as a read of it.

    Two sound reductions keep this near-linear in the history's length:
    - a list that returned before any op on the name was called and does not
      show it is trivially consistent: left out;
    - once every create/delete of the name has returned (none unknown), the
      state is final, so of the lists called after that only the first and
      those that disagree with it can change the verdict.
    """
    per_name: dict[str, list[Operation]] = {}
    first_call: dict[str, float] = {}
    settled: dict[str, float] = {}  # when the last create/delete returned
    for op in ops:
        if op.f not in ("create", "delete"):
            continue
        name = op.value
        first_call[name] = min(first_call.get(name, math.inf), op.call_time)
        settled[name] = max(settled.get(name, -math.inf), op.return_time)
        if op.type == "ok":
            out: Any = "ok"
        elif op.type == "info":
            out = None
        elif op.error == ALREADY_EXISTS and op.f == "create":
            out = "exists"
        elif op.error == UNKNOWN_TOPIC and op.f == "delete":
            out = "absent"
        else:
            continue  # any other fail: it did not happen
        per_name.setdefault(name, []).append(
            Operation(op.process, (op.f, name), op.call_time, out, op.return_time))
    lists = sorted((op for op in ops if op.f == "list" and op.type == "ok"),
                   key=lambda o: o.call_time)
    after_settled: dict[str, bool] = {}  # what the first list after settling saw
    for op in lists:
        shown = set(_names(op.result))
        for name in shown - set(per_name):  # phantoms: checked with no writer
            per_name.setdefault(name, [])
        for name, hist in per_name.items():
            present = name in shown
            if not present and op.return_time < first_call.get(name, math.inf):
                continue
            if op.call_time > settled.get(name, -math.inf):
                if name in after_settled and after_settled[name] == present:
                    continue
                after_settled.setdefault(name, present)
            hist.append(Operation(op.process, ("list", name), op.call_time, present,
                                  op.return_time))
    return per_name


def check_topics_linearizable(ops: list[Op], timeout_s: float = 60.0) -> dict:
    failures = []
    unknown = 0
    histories = existence_histories(ops)
    for name, hist in sorted(histories.items()):
        res = check(EXISTENCE_MODEL, hist, timeout_s=timeout_s)
        if res.ok is None:
            unknown += 1
        elif res.ok is False:
            report = res.to_json(EXISTENCE_MODEL)
            report["topic"] = name
            failures.append(report)
    valid: Any = not failures
    if valid and unknown:
        valid = "unknown"
    return {"valid": valid, "topics": len(histories), "timed_out": unknown,
            "failures": failures[:EXAMPLES_MAX], "failure_count": len(failures)}


# --- config registers ---------------------------------------------------------

def register_histories(ops: list[Op]) -> dict[str, list[Operation]]:
    per_topic: dict[str, list[Operation]] = {}
    for op in ops:
        if op.f not in ("write", "read") or not isinstance(op.value, list):
            continue
        topic = op.value[0]
        if op.f == "write":
            if op.type == "fail":
                continue
            out = "ok" if op.type == "ok" else None
            inp = ("write", op.value[1])
        else:
            if op.type != "ok":
                continue  # an unanswered read constrains nothing
            inp = ("read",)
            out = op.result[1] if isinstance(op.result, list) else op.result
        per_topic.setdefault(topic, []).append(
            Operation(op.process, inp, op.call_time, out, op.return_time))
    return per_topic


UNSET = "<unset>"  # as recorded by workload_metadata for a missing config


def check_registers(ops: list[Op], timeout_s: float = 60.0) -> dict:
    model = register_model(UNSET)
    results = {}
    valid: Any = True
    for topic, hist in sorted(register_histories(ops).items()):
        res = check(model, hist, timeout_s=timeout_s)
        results[topic] = res.to_json(model) if res.ok is not True else {
            "ok": True, "ops": len(hist)}
        if res.ok is False:
            valid = False
        elif res.ok is None and valid is True:
            valid = "unknown"
    return {"valid": valid, "registers": results}


# --- convergence ----------------------------------------------------------------

# The node's QuorumStatusResponse (broker/messages_node.py) carries
# applied_index and a state_machine summary; older/other shapes are accepted.
OFFSET_KEYS = ("metadata_offset", "offset", "applied_index")
DIGEST_KEYS = ("image_digest", "digest", "metadata_digest")


def _pick(status: dict, keys: tuple[str, ...]) -> Any:
    nested = status.get("state_machine")
    for source in (nested if isinstance(nested, dict) else {}, status):
        for k in keys:
            if source.get(k) is not None:
                return source[k]
    return None


def check_convergence(events: Iterable[dict]) -> dict:
    """Uses the last `node-status` harness event: {node_id: status | null}."""
    statuses = None
    for e in events:
        if e["process"] == NEMESIS and e["f"] == "node-status":
            statuses = e.get("value")
    if not isinstance(statuses, dict) or not statuses:
        return {"valid": "unknown", "error": "no node status recorded"}
    seen = {}
    missing = []
    for node, status in sorted(statuses.items()):
        if not isinstance(status, dict):
            missing.append(node)
            continue
        seen[node] = {"offset": _pick(status, OFFSET_KEYS), "digest": _pick(status, DIGEST_KEYS)}
    result: dict[str, Any] = {"nodes": seen, "unreachable": missing}
    if missing:
        result["valid"] = False
        result["error"] = f"nodes {missing} did not answer the status request after healing"
        return result
    if any(v["offset"] is None or v["digest"] is None for v in seen.values()):
        result["valid"] = "unknown"
        result["error"] = "status lacks a metadata offset or image digest"
        return result
    pairs = {(v["offset"], v["digest"]) for v in seen.values()}
    result["valid"] = len(pairs) == 1
    if len(pairs) != 1:
        result["error"] = "nodes disagree on metadata offset/digest after healing"
    return result


def check_crashes(events: Iterable[dict]) -> dict | None:
    """Nodes that exited without the harness killing them (a `node-exits`
    harness event); None when the history does not record it."""
    exits = None
    for e in events:
        if e["process"] == NEMESIS and e["f"] == "node-exits":
            exits = e.get("value")
    if exits is None:
        return None
    return {"valid": not exits, "exited": exits}


def check_all(events: list[dict], timeout_s: float = 60.0) -> dict:
    ops = pair(events)
    checks = {
        "topics": check_topics(ops),
        "topics-linearizable": check_topics_linearizable(ops, timeout_s),
        "registers": check_registers(ops, timeout_s),
        "convergence": check_convergence(events),
    }
    crashes = check_crashes(events)
    if crashes is not None:
        checks["crashes"] = crashes
    return checks
