"""Goal: offset commits are validated against the group generation,
fetched (require_stable), expired after retention only for empty groups,
groups deleted only when empty; the partitioner matches Java's hash; group
records round-trip and a replay resumes a Stable group."""

from __future__ import annotations

import pytest

from rafka.broker.group.errors import GroupError, GroupErrorCode as E
from rafka.broker.group.group import CommittedOffset, GroupState as S
from rafka.broker.group.offsets import apply_commit, fetch
from rafka.broker.group.partitioner import java_string_hashcode, partition_for

from tests.unit.group_fixtures import G, join, joined_member, make, replies, stable_group, sync  # noqa: F401


# --------------------------------------------------------------- offsets
def test_commit_validation():
    core = make()
    (a, b), gen = stable_group(core, 2)
    assert core.validate_commit(1, G, gen, a, None).group_id == G
    with pytest.raises(GroupError) as e:
        core.validate_commit(1, G, gen + 1, a, None)
    assert e.value.code == E.ILLEGAL_GENERATION
    with pytest.raises(GroupError) as e:
        core.validate_commit(1, G, gen, "ghost", None)
    assert e.value.code == E.UNKNOWN_MEMBER_ID
    with pytest.raises(GroupError) as e:
        core.validate_commit(1, G, -1, "", None)  # the group has active members
    assert e.value.code == E.UNKNOWN_MEMBER_ID
    # Self-assigning consumer: generation -1 creates an offsets-only group.
    g = core.validate_commit(1, "solo", -1, "", None)
    assert g.state == S.EMPTY and g.protocol_type is None
    with pytest.raises(GroupError) as e:
        core.validate_commit(1, "nope", 3, "m", None)
    assert e.value.code == E.ILLEGAL_GENERATION


def test_commit_refused_while_completing_rebalance():
    core = make()
    a = joined_member(core, 0)
    join(core, 0, a, token="j")
    gen = replies(core)["j"].generation_id
    with pytest.raises(GroupError) as e:
        core.validate_commit(1, G, gen, a, None)
    assert e.value.code == E.REBALANCE_IN_PROGRESS


def test_fetch_and_require_stable():
    core = make()
    g = core.validate_commit(0, "solo", -1, "", None)
    apply_commit(g, "t", 0, CommittedOffset(5, -1, "", 0))
    assert fetch(g, "t", 0, True) == (CommittedOffset(5, -1, "", 0), E.NONE)
    g.pending_commits[("t", 0)] += 1
    assert fetch(g, "t", 0, True) == (None, E.UNSTABLE_OFFSET_COMMIT)
    assert fetch(g, "t", 0, False)[0].offset == 5


def test_offsets_of_empty_group_expire_after_retention():
    week = 7 * 24 * 3600 * 1000
    core = make()
    (a,), gen = stable_group(core, 1, now=0)
    g = core.validate_commit(0, G, gen, a, None)
    apply_commit(g, "t", 0, CommittedOffset(5, -1, "", 0))
    core.leave(1_000, G, [(a, None)])  # empty since t=1000
    assert core.expire_offsets(1_000 + week - 1) == []
    assert core.expire_offsets(1_000 + week) == [(G, "t", 0)]
    assert core.group(G) is None  # no offsets left: deleted (a tombstone queued)
    assert core.take_writes()[-1].value is None


def test_offsets_of_active_group_never_expire():
    core = make()
    (a,), gen = stable_group(core, 1)
    g = core.validate_commit(0, G, gen, a, None)
    apply_commit(g, "t", 0, CommittedOffset(5, -1, "", 0))
    for t in range(0, 10**10, 10**9):
        core.heartbeat(t, group_id=G, generation_id=gen, member_id=a, group_instance_id=None)
        core.tick(t)
    # (the session lapsed between heartbeats, but while Stable nothing expires)
    assert core.expire_offsets(10**10) == [] or core.group(G) is None


def test_delete_group():
    core = make()
    stable_group(core, 1)
    assert core.delete_group(0, G) == E.NON_EMPTY_GROUP
    assert core.delete_group(0, "nope") == E.GROUP_ID_NOT_FOUND
    core.tick(10**6)
    assert core.delete_group(10**6, G) == E.NONE
    assert core.group(G) is None


# ------------------------------------------------------------ partitioner
def test_partition_for_matches_java():
    # Java: "my-group".hashCode() == 1066044806 (computed with the Java
    # formula by hand); abs(MIN_VALUE) maps to 0.
    assert java_string_hashcode("") == 0
    assert java_string_hashcode("a") == 97
    assert java_string_hashcode("ab") == 97 * 31 + 98
    assert java_string_hashcode("polygenelubricants") == -2147483648
    assert partition_for("polygenelubricants", 50) == 0
    h = java_string_hashcode("zzzzzzzz")
    assert h < 0 and partition_for("zzzzzzzz", 50) == abs(h) % 50


# ---------------------------------------------------------------- records
def test_records_round_trip_and_replay_resumes_stable_group():
    """Goal: a coordinator that replays the group and offset records of
    another one serves the same generation, members and assignments."""
    from rafka.broker.group import records

    core = make()
    (a, b), gen = stable_group(core, 2)
    g = core.group(G)
    apply_commit(g, "t", 3, CommittedOffset(42, 7, "meta", 1234))
    log = [(records.group_key(G), records.group_value(g))]
    log.append((records.offset_key(G, "t", 3), records.offset_value(g.offsets[("t", 3)])))
    log.append((records.offset_key(G, "t", 4), records.offset_value(CommittedOffset(1, -1, "", 0))))
    log.append((records.offset_key(G, "t", 4), None))  # deleted again
    fresh = make()
    for k, v in log:
        rec = records.decode(k, v)
        if isinstance(rec, records.OffsetRecord):
            apply_commit(fresh._get_or_create(rec.group_id, 0), rec.topic, rec.partition, rec.value)
        else:
            fresh.load_group(rec)
    fresh.finish_load(500)
    h = fresh.group(G)
    assert h.state == S.STABLE and h.generation_id == gen and set(h.members) == {a, b}
    assert h.offsets == {("t", 3): CommittedOffset(42, 7, "meta", 1234)}
    assert fresh.heartbeat(600, group_id=G, generation_id=gen, member_id=a, group_instance_id=None) == E.NONE
    assert sync(fresh, 600, b, gen).assignment == f"a-{b}".encode()
    with pytest.raises(records.RecordFormatError):
        records.decode(b"\x93\x09\x01\x02", b"")

