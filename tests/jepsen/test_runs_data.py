"""Short real Jepsen runs of the data workloads (queue, kafka): real node
processes, confluent-kafka clients behind the fault proxies.

Bounded: each default-suite run has 10 s of workload with 2-3 s fault
windows, as a `scripts/jepsen.py` subprocess with a hard timeout (so its
nodes are cleaned up by the runner even when the test fails); a failing
run's seed and directory are in the assertion message. The 120 s soak
runs with `--nemesis all` are marked slow. Never skipped.
"""

from __future__ import annotations

import pytest

from tests.jepsen.test_runs_common import run_script

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("workload", ["queue", "kafka"])
@pytest.mark.parametrize("nemesis", ["partition", "kill"])
def test_data_workload_short(tmp_path, workload, nemesis):
    """Goal: under partitions / kill -9 (kill-all included), in a short
    run, nothing acknowledged is lost or duplicated, reads and polls are
    consistent, committed offsets only go up, ISR replicas agree below the
    HW; and the run did work under faults."""
    results = run_script(tmp_path, workload, nemesis, seed=11, time_limit_s=10, windows="2,3")
    assert results["counts"]["ok"] > 20
    assert results["run"]["schedule"], "the nemesis must have scheduled faults"


@pytest.mark.parametrize("workload", ["queue", "kafka"])
def test_data_workload_lose_unfsynced(tmp_path, workload):
    """Goal: every node on lazyfs; a node or all nodes killed -9 with
    everything not fsynced dropped or torn (a power cut of that machine or
    of the whole cluster), in a short run: nothing
    acknowledged is lost (acks=all is acknowledged only once fsynced on the
    ISR), no duplicate or inconsistent read, replicas agree below the HW.
    Needs FUSE: without it the run refuses and this fails."""
    results = run_script(tmp_path, workload, "lose", seed=11, time_limit_s=12,
                         windows="2,3")
    assert results["counts"]["ok"] > 20
    assert results["run"]["schedule"], "the nemesis must have scheduled faults"


@pytest.mark.slow
@pytest.mark.parametrize("workload", ["queue", "kafka"])
def test_data_workload_all_nemeses(tmp_path, workload):
    """Goal: a 120 s run under every nemesis leaves a valid history."""
    results = run_script(tmp_path, workload, "all", seed=21, time_limit_s=120, windows="5,15",
                         timeout_s=600)
    assert results["counts"]["ok"] > 100
