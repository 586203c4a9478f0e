"""The data workloads never destroy a librdkafka handle on the trio thread:
a destroy blocks, and that thread also runs the fault proxies, so one there
would silence every link of the cluster under test. Stand-in clients whose
destructor records the thread it ran on; no cluster."""

from __future__ import annotations

import gc
import random
import threading

import trio

from tests.jepsen import kafka_client as kc, workload_data as wd, workload_kafka as wk
from tests.jepsen.history import HistoryRecorder


class _Cluster:
    def kafka_bootstrap(self) -> str:
        return "stand-in:1"


class _Handle:
    """A stand-in client: records whether its last reference died on the
    main (trio) thread."""

    def __init__(self, died_on_main: list) -> None:
        self.died_on_main = died_on_main

    def purge(self) -> None:
        pass

    def flush(self, timeout: float) -> int:
        return 0

    def close(self) -> None:
        pass

    def __del__(self) -> None:
        self.died_on_main.append(threading.current_thread() is threading.main_thread())


async def test_producers_die_in_worker_threads(monkeypatch):
    died_on_main: list = []
    sends: list = []

    def send_one(held, topic, key, value, timeout_s):
        sends.append(value)  # the first send's outcome is unknown: a fresh producer follows
        return kc.SendOutcome("info", error="X") if len(sends) == 1 else kc.SendOutcome("ok", 0, len(sends))

    monkeypatch.setattr(kc, "make_producer", lambda *a: _Handle(died_on_main))
    monkeypatch.setattr(kc, "send_one", send_one)
    s = wd.DataSettings(producers=1, rate_per_s=0)
    history = HistoryRecorder(trio.current_time)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(wd.producer_worker, 0, s, _Cluster(), history, random.Random(1))
            while len(sends) < 3:
                await trio.sleep(0.01)  # wait-ok: poll a condition inside a deadline
            nursery.cancel_scope.cancel()
    gc.collect()
    assert died_on_main == [False, False]  # the retired producer and the last one


async def test_consumers_are_closed_and_die_in_worker_threads():
    died_on_main: list = []
    s = wk.ConsumerSettings(consumers=2)
    s.leftovers.extend([_Handle(died_on_main), _Handle(died_on_main)])
    with trio.fail_after(30):
        await wk.close_all(s)
    gc.collect()
    assert s.leftovers == [] and died_on_main == [False, False]
