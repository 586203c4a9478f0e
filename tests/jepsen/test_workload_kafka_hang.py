"""The kafka workload's consumer worker survives a synchronous commit that
never returns (kafka seed 203: the harness hung at the time limit waiting for
such a thread): the commit becomes info COMMIT_HUNG, the stuck consumer is
abandoned (never closed: its thread is still inside the client) and the
worker ends. Stand-in consumer functions, no cluster."""

from __future__ import annotations

import random
import threading

import trio

from tests.jepsen import workload_kafka as wk
from tests.jepsen.history import HistoryRecorder


class _Cluster:
    def kafka_bootstrap(self) -> str:
        return "stand-in:1"


async def test_a_hung_commit_is_abandoned_not_waited_for(monkeypatch):
    release = threading.Event()
    consumer = object()
    monkeypatch.setattr(wk, "_make", lambda *a: consumer)
    monkeypatch.setattr(wk, "_subscribe", lambda *a: None)
    monkeypatch.setattr(wk, "_poll", lambda *a: ([[0, 5, "k", "v"]], []))
    monkeypatch.setattr(wk, "_commit", lambda *a: (release.wait(60), ("ok", None))[1])
    s = wk.ConsumerSettings(consumers=1, commit_deadline_s=0.3)
    history = HistoryRecorder(trio.current_time)
    try:
        with trio.fail_after(30):
            await wk.consumer_worker(0, s, _Cluster(), history, random.Random(1))
    finally:
        release.set()
    last = history.events[-1]
    assert (last["type"], last["f"], last.get("error")) == ("info", "commit", "COMMIT_HUNG")
    assert s.leftovers == [] and s.abandoned == [consumer]
