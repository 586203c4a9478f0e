"""Quorum status formatting: the JSON shape of DESIGN.md, leader-vs-follower
views, and the text table."""

from __future__ import annotations

import json

from rafka.broker.node.status import REPLICA_KEYS, REQUIRED_KEYS, build_status, render_status_table, status_to_dict


def leader_view():
    return build_status(
        cluster_id="c1",
        node_id=1,
        role="leader",
        leader_id=1,
        term=4,
        commit_index=9,
        applied_index=9,
        last_index=10,
        voters=[3, 1, 2],
        observers=[7],
        match_index={2: 10, 3: 6, 7: 10},
        last_contact_ms={2: 12, 3: 950, 7: 30},
        state_machine={"digest": "ab"},
    )


def test_leader_status_has_design_shape_and_lags():
    """The leader reports every member's log end and lag; keys match DESIGN.md."""
    d = status_to_dict(leader_view())
    json.dumps(d)  # serialisable
    assert set(REQUIRED_KEYS) <= set(d)
    assert d["leader_id"] == 1 and d["term"] == 4 and d["commit_index"] == 9
    by_id = {v["node_id"]: v for v in d["voters"]}
    assert list(by_id) == [1, 2, 3]
    for v in d["voters"] + d["observers"]:
        assert set(REPLICA_KEYS) <= set(v)
    assert by_id[1] == {"node_id": 1, "log_end_offset": 11, "lag": 0, "last_contact_ms": 0}
    assert by_id[2]["lag"] == 0 and by_id[3]["lag"] == 4
    assert by_id[3]["last_contact_ms"] == 950
    assert d["observers"][0]["node_id"] == 7 and d["observers"][0]["lag"] == 0


def test_follower_status_knows_only_itself_and_the_leader():
    """A follower cannot know others' logs: their lag is None, its leader id is set."""
    resp = build_status(
        cluster_id="c1",
        node_id=2,
        role="follower",
        leader_id=1,
        term=4,
        commit_index=9,
        applied_index=8,
        last_index=10,
        voters=[1, 2, 3],
        observers=[],
        match_index=None,
        last_contact_ms={1: 40},
        leader_peer_address="127.0.0.1:9192",
    )
    d = status_to_dict(resp)
    by_id = {v["node_id"]: v for v in d["voters"]}
    assert by_id[2]["log_end_offset"] == 11 and by_id[2]["lag"] is None
    assert by_id[1]["lag"] is None and by_id[1]["last_contact_ms"] == 40
    assert d["leader_peer_address"] == "127.0.0.1:9192"
    assert d["role"] == "follower"


def test_table_lists_every_member_and_marks_the_leader():
    text = render_status_table(status_to_dict(leader_view()))
    lines = text.splitlines()
    assert "leader_id     1" in lines
    rows = [ln.split() for ln in lines if ln[:1].isdigit()]
    assert [r[0] for r in rows] == ["1", "2", "3", "7"]
    assert rows[0][1] == "voter*" and rows[3][1] == "observer"
    assert rows[2][3] == "4"  # node 3's lag


def test_table_shows_unknowns_as_dashes():
    d = status_to_dict(leader_view())
    d["leader_id"] = None
    d["voters"][1]["lag"] = None
    text = render_status_table(d)
    assert "leader_id     -" in text
    assert any(ln.split()[:1] == ["2"] and "-" in ln.split() for ln in text.splitlines())


def test_state_machine_numbers_are_json_ints_and_digests_stay_strings():
    """`quorum status --json` shows the state machine's offsets and counts as
    numbers (scripts compare them), while digests stay strings."""
    resp = build_status(
        cluster_id="c1", node_id=1, role="leader", leader_id=1, term=4, commit_index=9,
        applied_index=9, last_index=10, voters=[1], observers=[], match_index={},
        last_contact_ms={},
        state_machine={"metadata_offset": "7", "metadata_digest": "0123", "entries_applied": "12",
                       "metadata_brokers": "-1", "digest": "ab12"},
    )
    sm = status_to_dict(resp)["state_machine"]
    assert sm == {"metadata_offset": 7, "metadata_digest": "0123", "entries_applied": 12,
                  "metadata_brokers": -1, "digest": "ab12"}
    assert json.loads(json.dumps(sm))["metadata_offset"] == 7
