"""Goal: the pure parts of `rafka groups`: reset targets (earliest, latest,
and --to-offset clamped into [log start, log end] like Kafka's tool) and the
describe shape (lag = log end - committed; a partition assigned but never
committed shows no committed offset and no lag)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from rafka.broker.cli.errors import CliError
from rafka.broker.cli.groups_cmd import describe_to_dict, refuse_if_active, target_offsets
from rafka.broker.cli.main import main


def test_reset_targets():
    starts = {("t", 0): 0, ("t", 1): 10}
    ends = {("t", 0): 50, ("t", 1): 20}
    assert target_offsets("earliest", None, starts, ends) == starts
    assert target_offsets("latest", None, starts, ends) == ends
    assert target_offsets("offset", 15, starts, ends) == {("t", 0): 15, ("t", 1): 15}
    assert target_offsets("offset", 5, starts, ends) == {("t", 0): 5, ("t", 1): 10}
    assert target_offsets("offset", 99, starts, ends) == {("t", 0): 50, ("t", 1): 20}


def test_describe_shape():
    tp = NS(topic="t", partition=1)
    member = NS(member_id="m-1", group_instance_id=None, client_id="c", host="/127.0.0.1",
                assignment=NS(topic_partitions=[tp, NS(topic="t", partition=2)]))
    desc = NS(group_id="g", state=NS(name="STABLE"), coordinator=NS(id=2, host="127.0.0.1", port=9093),
              partition_assignor="range", is_simple_consumer_group=False, members=[member])
    d = describe_to_dict(desc, {("t", 0): 3, ("t", 1): 7}, {("t", 0): 5, ("t", 1): 7, ("t", 2): 4})
    assert d["state"] == "STABLE" and d["coordinator"] == {"id": 2, "host": "127.0.0.1", "port": 9093}
    assert d["members"][0]["assignment"] == [{"topic": "t", "partition": 1}, {"topic": "t", "partition": 2}]
    assert [(p["partition"], p["committed_offset"], p["log_end_offset"], p["lag"], p["member_id"])
            for p in d["partitions"]] == [(0, 3, 5, 2, None), (1, 7, 7, 0, "m-1"), (2, None, 4, None, "m-1")]


def test_active_group_is_refused():
    with pytest.raises(CliError) as info:
        refuse_if_active(NS(state=NS(name="STABLE"), members=[object()]), "g")
    assert info.value.code == "UNKNOWN_MEMBER_ID"
    refuse_if_active(NS(state=NS(name="EMPTY"), members=[]), "g")


def test_reset_needs_exactly_one_target(capsys):
    assert main(["groups", "reset-offsets", "g", "--topic", "t"]) == 2
    assert main(["groups", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--to-latest"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: INVALID_ARGUMENTS:") for line in err)
