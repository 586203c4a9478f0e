"""Goal: each data checker flags exactly the anomaly it is for, on a small
hand-made history, and every checker passes a valid history."""

from __future__ import annotations

from tests.jepsen.checkers_data import check_all

VALID_KEYS = ("lost", "duplicated", "unexpected", "order", "inconsistent-offsets", "poll-skip",
              "nonmonotonic-poll", "committed-offsets", "replica-divergence")


class H:
    """Builds a history: ops complete in the order they are added."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.t = 0.0

    def _ev(self, process, type_, f, value):
        self.t += 1.0
        self.events.append({"index": len(self.events), "process": process, "type": type_, "f": f,
                            "value": value, "time": self.t})

    def op(self, process, f, value, type_="ok", result=None):
        self._ev(process, "invoke", f, value)
        self._ev(process, type_, f, value if result is None else result)
        return self

    def send(self, process, value, partition, offset, type_="ok"):
        res = {"key": "k", "value": value, "partition": partition, "offset": offset}
        return self.op(process, "send", {"key": "k", "value": value}, type_,
                       res if type_ == "ok" else None)

    def poll(self, process, records):
        return self.op(process, "poll", None, result={"records": [list(r) for r in records]})

    def final(self, partition, records, type_="ok"):
        recs = [[partition, o, "k", v] for o, v in records]
        return self.op(900 + partition, "read", {"final": True, "partition": partition}, type_,
                       {"records": recs} if type_ == "ok" else None)

    def commit(self, process, group, offsets, f="commit"):
        v = {"group": group, "offsets": [list(x) for x in offsets]}
        return self.op(process, f, v, result=v)

    def replicas(self, hw, replicas):
        self._ev("nemesis", "info", "replica-logs", {"partitions": {"0": {
            "high_watermark": hw, "isr": sorted(replicas),
            "replicas": {str(n): {"digest": d, "records": c} for n, (d, c) in replicas.items()}}}})
        return self


def valid_history() -> H:
    h = H()
    h.send(1, "a", 0, 0).send(1, "b", 0, 1).send(2, "c", 1, 0).send(2, "d", 0, 2)
    h.send(3, "e", 1, 1, type_="info").send(3, "f", 1, 1, type_="fail")
    h.op(10, "assign", {"partitions": [0, 1]})
    h.poll(10, [(0, 0, "k", "a"), (0, 1, "k", "b")]).commit(10, "g", [(0, 2)])
    h.poll(10, [(0, 2, "k", "d"), (1, 0, "k", "c")]).commit(10, "g", [(0, 3), (1, 1)])
    h.op(10, "revoke", {"partitions": [0, 1]}).op(10, "assign", {"partitions": [0]})
    h.poll(10, [(0, 2, "k", "d")])  # re-delivered after a rebalance: allowed
    h.final(0, [(0, "a"), (1, "b"), (2, "d")]).final(1, [(0, "c"), (1, "e")])
    h.commit(99, "g", [(0, 3), (1, 1)], f="committed")
    h.replicas(3, {1: ("x", 3), 2: ("x", 3), 3: ("x", 3)})
    return h


def verdicts(h: H) -> dict:
    return {k: v["valid"] for k, v in check_all(h.events).items()}


def only_invalid(h: H, *names: str) -> dict:
    checks = check_all(h.events)
    bad = {k for k, v in checks.items() if v["valid"] is not True}
    assert bad == set(names), {k: checks[k] for k in bad}
    return checks


def test_valid_history_passes_every_checker():
    assert set(verdicts(valid_history())) == set(VALID_KEYS)
    only_invalid(valid_history())


def test_lost_acknowledged_send():
    h = H().send(1, "a", 0, 0).send(1, "b", 0, 1).final(0, [(0, "a")])
    h.replicas(1, {1: ("x", 1)})
    checks = only_invalid(h, "lost")
    assert [x["value"] for x in checks["lost"]["lost"]] == ["b"]


def test_lost_is_unknown_without_the_partition_final_read():
    h = H().send(1, "a", 0, 0).final(0, [], type_="fail").replicas(0, {1: ("x", 0)})
    assert check_all(h.events)["lost"]["valid"] == "unknown"


def test_duplicated_value_at_two_offsets():
    h = H().send(1, "a", 0, 0).final(0, [(0, "a"), (1, "a")]).replicas(2, {1: ("x", 2)})
    checks = only_invalid(h, "duplicated")
    assert checks["duplicated"]["duplicated"][0] == {"value": "a", "at": [[0, 0], [0, 1]]} or \
        checks["duplicated"]["duplicated"][0]["at"] == [(0, 0), (0, 1)]


def test_unexpected_value_never_sent():
    h = H().send(1, "a", 0, 0).final(0, [(0, "a"), (1, "zz")]).replicas(2, {1: ("x", 2)})
    checks = only_invalid(h, "unexpected")
    assert checks["unexpected"]["unexpected"] == ["zz"]


def test_order_within_a_partition_per_producer():
    # acknowledged a then b, but the log holds b before a
    h = H().send(1, "a", 0, 1).send(1, "b", 0, 0).final(0, [(0, "b"), (1, "a")])
    h.replicas(2, {1: ("x", 2)})
    checks = only_invalid(h, "order")
    assert checks["order"]["reordered"][0]["first"] == ["a", 1]


def test_order_ignores_different_producers_and_partitions():
    h = H().send(1, "a", 0, 1).send(2, "b", 0, 0).send(1, "c", 1, 0)
    h.final(0, [(0, "b"), (1, "a")]).final(1, [(0, "c")]).replicas(2, {1: ("x", 2)})
    only_invalid(h)


def test_inconsistent_offsets_two_values_at_one_offset():
    h = H().send(1, "a", 0, 0).send(1, "b", 0, 1)
    h.poll(5, [(0, 0, "k", "a"), (0, 1, "k", "b")])
    h.final(0, [(0, "a"), (1, "a2")]).send(2, "a2", 0, 2, type_="info")
    h.replicas(2, {1: ("x", 2)})
    checks = check_all(h.events)
    assert checks["inconsistent-offsets"]["valid"] is False
    assert checks["inconsistent-offsets"]["inconsistent"][0]["offset"] == 1


def test_poll_skip_over_a_known_offset():
    h = H().send(1, "a", 0, 0).send(1, "b", 0, 1).send(1, "c", 0, 2)
    h.poll(5, [(0, 0, "k", "a")]).poll(5, [(0, 2, "k", "c")])
    h.final(0, [(0, "a"), (1, "b"), (2, "c")]).replicas(3, {1: ("x", 3)})
    checks = only_invalid(h, "poll-skip")
    assert checks["poll-skip"]["skips"][0]["missed"] == 1


def test_poll_skip_inside_one_poll():
    h = H().send(1, "a", 0, 0).send(1, "b", 0, 1).send(1, "c", 0, 2)
    h.poll(5, [(0, 0, "k", "a"), (0, 2, "k", "c")])
    h.final(0, [(0, "a"), (1, "b"), (2, "c")]).replicas(3, {1: ("x", 3)})
    only_invalid(h, "poll-skip")


def test_nonmonotonic_poll_without_rebalance():
    h = H().send(1, "a", 0, 0).send(1, "b", 0, 1)
    h.poll(5, [(0, 0, "k", "a"), (0, 1, "k", "b")]).poll(5, [(0, 0, "k", "a")])
    h.final(0, [(0, "a"), (1, "b")]).replicas(2, {1: ("x", 2)})
    only_invalid(h, "nonmonotonic-poll")


def test_seek_or_rebalance_between_polls_allows_jumps():
    h = H().send(1, "a", 0, 0).send(1, "b", 0, 1).send(1, "c", 0, 2)
    h.poll(5, [(0, 1, "k", "b")]).op(5, "seek", {"partition": 0, "offset": 0})
    h.poll(5, [(0, 0, "k", "a")]).op(5, "revoke", {"partitions": [0]}).op(5, "assign", {"partitions": [0]})
    h.poll(5, [(0, 2, "k", "c")])
    h.final(0, [(0, "a"), (1, "b"), (2, "c")]).replicas(3, {1: ("x", 3)})
    only_invalid(h)


def test_rebalance_inside_a_poll_allows_a_jump():
    h = H().send(1, "a", 0, 0).send(1, "b", 0, 1).send(1, "c", 0, 2)
    h.poll(5, [(0, 2, "k", "c")])
    h.op(5, "poll", None, result={"records": [[0, 0, "k", "a"]], "rebalance": [{"assign": [0]}]})
    h.final(0, [(0, "a"), (1, "b"), (2, "c")]).replicas(3, {1: ("x", 3)})
    only_invalid(h)


def test_committed_offset_goes_backwards():
    h = H().send(1, "a", 0, 0).final(0, [(0, "a")]).replicas(1, {1: ("x", 1)})
    h.commit(5, "g", [(0, 5)]).commit(6, "g", [(0, 3)])
    checks = only_invalid(h, "committed-offsets")
    assert checks["committed-offsets"]["backwards"][0]["earlier_commit"] == 5


def test_final_committed_lower_than_an_acknowledged_commit():
    h = H().send(1, "a", 0, 0).final(0, [(0, "a")]).replicas(1, {1: ("x", 1)})
    h.commit(5, "g", [(0, 5)]).commit(99, "g", [(0, 4)], f="committed")
    only_invalid(h, "committed-offsets")


def test_concurrent_commits_and_other_groups_are_not_ordered():
    h = H().send(1, "a", 0, 0).final(0, [(0, "a")]).replicas(1, {1: ("x", 1)})
    h.commit(5, "g", [(0, 5)]).commit(6, "other", [(0, 1)])
    # overlapping commits: invoke 7, invoke 8, complete 7 (9), complete 8 (3)
    for e in ({"process": 7, "type": "invoke", "f": "commit", "value": {"group": "h", "offsets": [[0, 9]]}},
              {"process": 8, "type": "invoke", "f": "commit", "value": {"group": "h", "offsets": [[0, 3]]}},
              {"process": 7, "type": "ok", "f": "commit", "value": {"group": "h", "offsets": [[0, 9]]}},
              {"process": 8, "type": "ok", "f": "commit", "value": {"group": "h", "offsets": [[0, 3]]}}):
        h.t += 1
        h.events.append({**e, "index": len(h.events), "time": h.t})
    only_invalid(h)


def test_replica_divergence_below_the_hw():
    h = H().send(1, "a", 0, 0).final(0, [(0, "a")])
    h.replicas(1, {1: ("x", 1), 2: ("y", 1), 3: ("x", 1)})
    only_invalid(h, "replica-divergence")


def test_replica_missing_records_below_the_hw():
    h = H().send(1, "a", 0, 0).final(0, [(0, "a")])
    h.replicas(1, {1: ("x", 1), 2: ("", 0)})
    only_invalid(h, "replica-divergence")


def test_replica_divergence_unknown_without_the_view():
    h = H().send(1, "a", 0, 0).final(0, [(0, "a")])
    assert check_all(h.events)["replica-divergence"]["valid"] == "unknown"
