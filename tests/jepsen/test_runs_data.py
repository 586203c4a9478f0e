"""Short real Jepsen runs of the data workloads (queue, kafka): real node
processes, confluent-kafka clients behind the fault proxies.

Bounded: the default suite has one short run per workload that injects
every partition, kill and power-cut (lazyfs) kind in turn (`--schedule
ordered`, 2-3 s fault and heal windows, a time limit just long enough for
each kind to get a window: 54 s), as a `scripts/jepsen.py` subprocess with
a hard timeout (so its nodes are cleaned up by the runner even when the
test fails); a failing run's seed and directory are in the assertion
message. The 120 s soak runs with `--nemesis all` are marked slow. Never
skipped: without FUSE the run refuses and the test fails.
"""

from __future__ import annotations

import pytest

from tests.jepsen.nemesis import parse_nemeses
from tests.jepsen.test_runs_common import run_script

pytestmark = pytest.mark.integration


SHORT_NEMESES = "partition,kill,lose"  # every kind of these families, in this order


@pytest.mark.parametrize("workload", ["queue", "kafka"])
def test_data_workload_short(tmp_path, workload):
    """Goal: under each kind of partition, kill -9 (of a node, the leader,
    all nodes) and power cut in turn (every node on lazyfs; a node or all
    nodes killed -9 with everything not fsynced dropped or torn), in a short
    run: nothing acknowledged is lost (acks=all is acknowledged only once
    fsynced on the ISR) or duplicated, reads and polls are consistent,
    committed offsets only go up, ISR replicas agree below the HW; and the
    run did work with every kind actually injected."""
    results = run_script(tmp_path, workload, SHORT_NEMESES, seed=11, windows="2,3",
                         schedule="ordered")
    assert results["counts"]["ok"] > 20
    assert {e["kind"] for e in results["run"]["schedule"]} == set(parse_nemeses(SHORT_NEMESES))


@pytest.mark.slow
@pytest.mark.parametrize("workload", ["queue", "kafka"])
def test_data_workload_all_nemeses(tmp_path, workload):
    """Goal: a 120 s run under every nemesis leaves a valid history."""
    results = run_script(tmp_path, workload, "all", seed=21, time_limit_s=120, windows="5,15",
                         timeout_s=600)
    assert results["counts"]["ok"] > 100
