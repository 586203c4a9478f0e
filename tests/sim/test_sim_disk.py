"""The simulator on the real disk storage: every node runs DiskStorage (and
its log/ PartitionLog) over tests.sim.crashfs.CrashFs, and every crash loses
what was not durable (`python scripts/vopr.py --storage disk`).

Besides the invariants of the memory sweep, each power loss checks
"storage durability": every entry a node synced (and did not since cut for a
conflict) and its last written term and vote survive the reopen."""

from __future__ import annotations

import pytest

from tests.sim.cluster import SimConfig, SimFailure, Simulation

DISK_CI_SEEDS = 240
DISK_CI_CHUNK = 30
DISK_CI_EVENTS = 2000


def _disk_config(seed: int, events: int = DISK_CI_EVENTS) -> SimConfig:
    return SimConfig(nodes=3 if seed % 2 else 5, events_max=events, storage="disk")


@pytest.mark.parametrize("first", range(0, DISK_CI_SEEDS, DISK_CI_CHUNK))
def test_disk_seed_sweep(first):
    """Goal: 240 seeds on disk storage (partitions, crashes at every crash
    point and inside the file layer, torn power losses, snapshots,
    membership) keep every safety invariant, storage durability included,
    make progress after healing and give linearizable histories."""
    for seed in range(first, first + DISK_CI_CHUNK):
        result = Simulation(seed, _disk_config(seed)).run()
        assert result.tally.get("progress") == 1


def test_disk_sweep_exercises_power_losses_inside_the_file_layer():
    """Goal: the disk sweep really crashes inside storage operations and
    reopens through recovery (so it is not a memory sweep in disguise)."""
    tally: dict[str, int] = {}
    for seed in range(2000, 2020):
        result = Simulation(seed, _disk_config(seed)).run()
        for k, v in result.tally.items():
            tally[k] = tally.get(k, 0) + v
    assert tally.get("crash-point fs", 0) > 0
    assert tally.get("disk", 0) >= tally.get("crash", 0) > 0  # every crash was a power loss + reopen
    assert tally.get("install-snap", 0) > 0


def test_disk_seed_replays_exactly():
    """Goal: a disk run is still a pure function of its seed."""
    a = Simulation(21, _disk_config(21, 800))
    a.run()
    b = Simulation(21, _disk_config(21, 800))
    b.run()
    assert a.trace.render() == b.trace.render()


def test_storage_durability_check_catches_a_skipped_fsync(monkeypatch):
    """Goal: the checker is not vacuous: a storage whose sync() skips the
    data fsync loses acknowledged entries at the first power loss, and the
    disk simulator reports it (seed 1 is its first failing seed)."""
    from rafka.raft.disk_storage import DiskStorage

    monkeypatch.setattr(DiskStorage, "sync", lambda self: None)
    with pytest.raises(SimFailure) as failure:
        Simulation(1, _disk_config(1, 3000)).run()
    assert failure.value.invariant == "storage durability"


@pytest.mark.slow
def test_disk_soak_many_seeds():
    """Goal: a long soak (RAFKA_SLOW=1): 2,000 more disk seeds find no violation."""
    failures = []
    for seed in range(20_000, 22_000):
        try:
            Simulation(seed, SimConfig(nodes=3 if seed % 2 else 5, events_max=3000, storage="disk")).run()
        except SimFailure as exc:
            failures.append(f"{seed}: {exc.invariant}: {exc.detail}")
    assert not failures, "\n".join(failures[:10])
