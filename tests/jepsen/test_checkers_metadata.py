"""The metadata checkers on hand-made histories: each bug must be flagged and
each valid history must pass."""

from __future__ import annotations

import pytest

from tests.jepsen.checkers_metadata import (
    check_all,
    check_convergence,
    check_registers,
    check_topics,
    check_topics_linearizable,
)
from tests.jepsen.history import HistoryError, pair, parse_lines


class H:
    """A tiny history builder: ops with explicit invoke/complete times."""

    def __init__(self):
        self.events = []

    def op(self, p, f, value, t0, t1, type_="ok", result=None, error=None):
        self.events.append({"process": p, "type": "invoke", "f": f, "value": value, "time": t0})
        done = {"process": p, "type": type_, "f": f,
                "value": result if result is not None else value, "time": t1}
        if error:
            done["error"] = error
        self.events.append(done)
        return self

    def final(self, p, names, t0, t1, node=1):
        return self.op(p, "list", {"final": True, "node": node}, t0, t1, result=sorted(names))

    def status(self, statuses, t):
        self.events.append({"process": "nemesis", "type": "info", "f": "node-status",
                            "value": statuses, "time": t})
        return self

    def ops(self):
        self.events.sort(key=lambda e: e["time"])
        return pair(self.events)


def test_valid_history_passes_every_check():
    """Goal: a clean history (creates, a delete, lists, registers, converged
    nodes) is valid under every checker."""
    h = H()
    h.op(0, "create", "jt-0", 0, 1).op(1, "create", "jt-1", 0.5, 1.5)
    h.op(2, "list", None, 2, 3, result=["jt-0", "jt-1"])
    h.op(0, "delete", "jt-1", 4, 5)
    h.op(1, "write", ["jr-0", "1001"], 6, 7).op(2, "read", ["jr-0", None], 8, 9, result=["jr-0", "1001"])
    h.final(3, ["jt-0"], 20, 21)
    h.status({"1": {"applied_index": 9, "state_machine": {"digest": "ab"}},
              "2": {"applied_index": 9, "state_machine": {"digest": "ab"}}}, 22)
    checks = check_all(sorted(h.events, key=lambda e: e["time"]))
    assert {k: v["valid"] for k, v in checks.items()} == {
        "topics": True, "topics-linearizable": True, "registers": True, "convergence": True}


def test_lost_acknowledged_create_is_flagged():
    """Goal: an acked create missing from the final read is a lost write."""
    h = H().op(0, "create", "jt-0", 0, 1).final(1, [], 10, 11)
    res = check_topics(h.ops())
    assert res["valid"] is False and res["lost"] == ["jt-0"]
    assert check_topics_linearizable(h.ops())["valid"] is False


def test_info_delete_excuses_a_missing_topic():
    """Goal: a topic whose delete timed out (info) may be gone or present."""
    for shown in ([], ["jt-0"]):
        h = H().op(0, "create", "jt-0", 0, 1).op(0, "delete", "jt-0", 2, 3, type_="info",
                                                 error="TIMEOUT")
        h.final(1, shown, 10, 11)
        assert check_topics(h.ops())["valid"] is True
        assert check_topics_linearizable(h.ops())["valid"] is True


def test_info_create_may_or_may_not_exist():
    """Goal: a create with unknown outcome is fine either way."""
    for shown in ([], ["jt-0"]):
        h = H().op(0, "create", "jt-0", 0, 1, type_="info", error="TIMEOUT").final(1, shown, 10, 11)
        assert check_topics(h.ops())["valid"] is True
        assert check_topics_linearizable(h.ops())["valid"] is True


def test_phantom_topic_is_flagged():
    """Goal: a listed name nobody tried to create, or listed before its create
    was invoked, is a phantom."""
    h = H().op(0, "list", None, 0, 1, result=["ghost"]).final(1, ["ghost"], 10, 11)
    res = check_topics(h.ops())
    assert res["valid"] is False and res["phantoms"] == ["ghost"]
    assert check_topics_linearizable(h.ops())["valid"] is False
    early = H().op(0, "list", None, 0, 1, result=["jt-5"]).op(1, "create", "jt-5", 2, 3)
    early.final(2, ["jt-5"], 10, 11)
    assert check_topics(early.ops())["phantoms"] == ["jt-5"]


def test_internal_topics_are_not_phantoms():
    """Goal: broker-internal topics (`__` prefix) are ignored."""
    h = H().final(1, ["__cluster_metadata"], 10, 11)
    assert check_topics(h.ops())["valid"] is True


def test_resurrected_delete_is_flagged():
    """Goal: an acked delete whose topic is back in the final read is flagged."""
    h = H().op(0, "create", "jt-0", 0, 1).op(0, "delete", "jt-0", 2, 3).final(1, ["jt-0"], 10, 11)
    res = check_topics(h.ops())
    assert res["valid"] is False and res["resurrected"] == ["jt-0"]


def test_stale_list_is_not_linearizable():
    """Goal: a list that starts after a create was acked but does not show it
    (a stale read, e.g. from a deposed leader) is flagged by the
    linearizability check even though the final read is fine."""
    h = H().op(0, "create", "jt-0", 0, 1).op(1, "list", None, 2, 3, result=[])
    h.final(2, ["jt-0"], 10, 11)
    assert check_topics(h.ops())["valid"] is True  # the end state is fine...
    res = check_topics_linearizable(h.ops())
    assert res["valid"] is False and res["failures"][0]["topic"] == "jt-0"


def test_concurrent_list_may_miss_a_create():
    """Goal: a list overlapping a create may or may not show the topic."""
    for shown in ([], ["jt-0"]):
        h = H().op(0, "create", "jt-0", 0, 5).op(1, "list", None, 1, 2, result=shown)
        h.final(2, ["jt-0"], 10, 11)
        assert check_topics_linearizable(h.ops())["valid"] is True


def test_duplicate_names_in_a_list_are_flagged():
    """Goal: a listing that shows one topic twice is invalid."""
    h = H().op(0, "create", "jt-0", 0, 1).op(1, "list", None, 2, 3, result=["jt-0", "jt-0"])
    h.final(2, ["jt-0"], 10, 11)
    assert check_topics(h.ops())["valid"] is False


def test_no_final_read_is_unknown():
    """Goal: without a successful final read the verdict is not 'valid'."""
    h = H().op(0, "create", "jt-0", 0, 1)
    assert check_topics(h.ops())["valid"] == "unknown"


def test_register_stale_read_and_lost_write_are_flagged():
    """Goal: a read of an overwritten value after the overwrite was acked (a
    stale read / lost write) breaks register linearizability."""
    h = H().op(0, "write", ["jr-0", "1"], 0, 1).op(0, "write", ["jr-0", "2"], 2, 3)
    h.op(1, "read", ["jr-0", None], 4, 5, result=["jr-0", "1"])
    res = check_registers(h.ops())
    assert res["valid"] is False
    assert res["registers"]["jr-0"]["ok"] is False


def test_register_non_linearizable_sequence_is_flagged():
    """Goal: two sequential reads overlapping one write may not see new then
    old."""
    h = H().op(0, "write", ["jr-0", "1"], 0, 1).op(0, "write", ["jr-0", "2"], 2, 100)
    h.op(1, "read", ["jr-0", None], 3, 4, result=["jr-0", "2"])
    h.op(2, "read", ["jr-0", None], 5, 6, result=["jr-0", "1"])
    assert check_registers(h.ops())["valid"] is False


def test_register_info_write_may_be_seen_late():
    """Goal: a timed-out write may surface at any later time; a failed write
    must never be seen."""
    h = H().op(0, "write", ["jr-0", "1"], 0, 1)
    h.op(0, "write", ["jr-0", "2"], 2, 3, type_="info", error="TIMEOUT")
    h.op(1, "read", ["jr-0", None], 4, 5, result=["jr-0", "1"])
    h.op(1, "read", ["jr-0", None], 6, 7, result=["jr-0", "2"])
    assert check_registers(h.ops())["valid"] is True
    bad = H().op(0, "write", ["jr-0", "1"], 0, 1)
    bad.op(0, "write", ["jr-0", "2"], 2, 3, type_="fail", error="INVALID_CONFIG")
    bad.op(1, "read", ["jr-0", None], 4, 5, result=["jr-0", "2"])
    assert check_registers(bad.ops())["valid"] is False


def test_convergence_detects_divergence_and_missing_nodes():
    """Goal: different digests, or a node that did not answer, fail; no
    status at all is unknown."""
    agree = {"applied_index": 5, "state_machine": {"digest": "x"}}
    differ = {"applied_index": 5, "state_machine": {"digest": "y"}}
    assert check_convergence(H().status({"1": agree, "2": agree}, 1).events)["valid"] is True
    assert check_convergence(H().status({"1": agree, "2": differ}, 1).events)["valid"] is False
    assert check_convergence(H().status({"1": agree, "2": None}, 1).events)["valid"] is False
    assert check_convergence(H().events)["valid"] == "unknown"


def test_history_parsing_rejects_bad_lines():
    """Goal: malformed history lines raise a typed error naming the line."""
    with pytest.raises(HistoryError, match="line 1"):
        parse_lines(['{"process": 0}'])
    with pytest.raises(HistoryError, match="line 2"):
        parse_lines(['{"process":0,"type":"invoke","f":"list","time":0}', "nope"])
    with pytest.raises(HistoryError):
        pair([{"process": 0, "type": "ok", "f": "list", "value": None, "time": 1}])


def test_unfinished_invoke_pairs_as_info():
    """Goal: an invoke the run never completed counts as info (may happen)."""
    ops = pair([{"process": 0, "type": "invoke", "f": "create", "value": "jt-0", "time": 1}])
    assert ops[0].type == "info" and ops[0].return_time == float("inf")


def test_late_disagreeing_list_is_still_checked():
    """Goal: the reduction of lists after a name settles keeps a list that
    disagrees with the earlier ones (a topic that vanishes later is caught)."""
    h = H().op(0, "create", "jt-0", 0, 1)
    for k in range(5):
        h.op(1, "list", None, 2 + k, 2.5 + k, result=["jt-0"])
    h.op(1, "list", None, 20, 21, result=[])
    h.op(1, "list", None, 22, 23, result=["jt-0"])
    assert check_topics_linearizable(h.ops())["valid"] is False


def test_register_read_of_unset_after_write_is_flagged():
    """Goal: reading "no value" after an acknowledged write (a lost config
    write) is caught, while reading it before any write is fine."""
    h = H().op(1, "read", ["jr-0", None], 0, 1, result=["jr-0", "<unset>"])
    h.op(0, "write", ["jr-0", "1"], 2, 3)
    assert check_registers(h.ops())["valid"] is True
    h.op(1, "read", ["jr-0", None], 4, 5, result=["jr-0", "<unset>"])
    assert check_registers(h.ops())["valid"] is False
