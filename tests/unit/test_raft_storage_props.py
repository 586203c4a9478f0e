"""Property: MemoryStorage and RaftLog agree with a plain-list model under
random appends that overwrite conflicting suffixes, persists and compaction."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rafka.raft.raft_log import RaftLog
from rafka.raft.storage import MemoryStorage
from rafka.raft.types import ConfigState, Entry, Snapshot, SnapshotMeta

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 8), st.integers(1, 4)),
        st.tuples(st.just("persist"), st.just(0), st.just(0)),
        st.tuples(st.just("compact"), st.integers(0, 8), st.just(0)),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_raft_log_matches_list_model(script):
    """Goal: after any mix of appends (each may truncate a suffix), persists
    (unstable -> storage) and compactions, every readable index has the
    model's term, and last_index equals the model's length."""
    storage = MemoryStorage(ConfigState(frozenset({1})))
    log = RaftLog(storage)
    model: list[int] = []  # model[i-1] = term of index i
    term = 1
    for op, a, b in script:
        if op == "append":
            term += 1
            start = max(len(model) - a, log.committed, log.first_index() - 1) + 1
            new = [Entry(term, start + k) for k in range(b)]
            log.append(new)
            model = model[: start - 1] + [term] * b
        elif op == "persist":
            if log.unstable:
                storage.append(list(log.unstable))
                log.stable_to(log.unstable[-1].index, log.unstable[-1].term)
        else:
            idx = min(storage.last_index(), log.unstable_offset - 1) - a
            if idx > storage.snapshot().meta.index and idx >= 1:
                storage.create_snapshot(Snapshot(SnapshotMeta(idx, storage.term(idx), ConfigState()), b""))
                storage.compact(idx)
        assert log.last_index() == len(model)
        for i in range(log.first_index(), log.last_index() + 1):
            assert log.term(i) == model[i - 1]
        assert [e.term for e in log.entries_from(log.first_index(), None)] == model[log.first_index() - 1 :]
