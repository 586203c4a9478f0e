"""RaftDriver under trio: three drivers over an in-memory transport elect a
leader and apply proposals in order everywhere (MockClock, autojump); reads,
transfer, automatic snapshots; a single node on DiskStorage survives a
restart."""

from __future__ import annotations

import random

import pytest
import trio

from rafka.raft.config import RaftConfig
from rafka.raft.core import RaftCore
from rafka.raft.disk_storage import DiskStorage
from rafka.raft.driver import DriverLimits, RaftDriver
from rafka.raft.errors import NotLeaderError, RaftTimeoutError
from rafka.raft.storage import MemoryStorage
from rafka.raft.types import ConfigState, Role


class ListMachine:
    """State machine: the list of applied values; apply returns the length."""

    def __init__(self) -> None:
        self.values: list[bytes] = []

    def apply(self, entry) -> int:
        self.values.append(entry.data)
        return len(self.values)

    def snapshot(self) -> bytes:
        return b"\n".join(self.values)

    def restore(self, data: bytes) -> None:
        self.values = data.split(b"\n") if data else []


class Router:
    """In-memory transport: send() hands the message to the target driver."""

    def __init__(self) -> None:
        self.drivers: dict[int, RaftDriver] = {}
        self.cut: set[int] = set()

    def transport(self, node_id: int):
        router = self

        class _T:
            def send(self, msg) -> None:
                if msg.dst in router.drivers and node_id not in router.cut and msg.dst not in router.cut:
                    router.drivers[msg.dst].deliver(msg)

        return _T()


def _cluster(n=3, **limits):
    router = Router()
    machines = {}
    conf = ConfigState(frozenset(range(1, n + 1)))
    cfg = RaftConfig(election_timeout_ticks=10, heartbeat_ticks=2)
    for i in range(1, n + 1):
        storage = MemoryStorage(conf)
        core = RaftCore(i, cfg, storage, random.Random(i))
        machines[i] = ListMachine()
        router.drivers[i] = RaftDriver(
            core, storage, router.transport(i), machines[i], tick_ms=10, node_id=i, limits=DriverLimits(**limits)
        )
    return router, machines


async def _until(pred, timeout_s=30.0):
    with trio.fail_after(timeout_s):
        while not pred():
            await trio.sleep(0.01)  # wait-ok: a poll bounded by fail_after


def _leader(router):
    leaders = [i for i, d in router.drivers.items() if d.core.role == Role.LEADER and i not in router.cut]
    return leaders[0] if len(leaders) == 1 else None


async def test_three_drivers_elect_and_apply_in_order(autojump_clock):
    """Goal: a leader is elected, proposals return the apply result, and all
    three state machines end with the same values in proposal order."""
    router, machines = _cluster()
    async with trio.open_nursery() as nursery:
        for d in router.drivers.values():
            await nursery.start(d.run)
        await _until(lambda: _leader(router) is not None)
        leader = router.drivers[_leader(router)]
        values = [b"v%d" % i for i in range(20)]
        results = [await leader.propose(v, timeout_s=5) for v in values]
        assert results == list(range(1, 21))
        await _until(lambda: all(len(m.values) == 20 for m in machines.values()))
        assert all(m.values == values for m in machines.values())
        nursery.cancel_scope.cancel()


async def test_driver_logs_the_votes_its_core_decided(autojump_clock):
    """Goal: each granted vote appears in the voter's log as one
    `raft_vote_granted` line with the voter's node id, the candidate and
    the term, so a reader can reconstruct who elected the leader."""
    from structlog.testing import capture_logs

    router, _ = _cluster()
    with capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            for d in router.drivers.values():
                await nursery.start(d.run)
            await _until(lambda: _leader(router) is not None)
            leader = _leader(router)
            term = router.drivers[leader].core.term
            await _until(lambda: any(e["event"] == "raft_vote_granted" and e["term"] == term
                                     and not e["pre_vote"] for e in logs))
            nursery.cancel_scope.cancel()
    grants = [e for e in logs if e["event"] == "raft_vote_granted" and e["term"] == term and not e["pre_vote"]]
    assert grants and all(e["candidate"] == leader and e["node_id"] != leader for e in grants)
    assert all(e["log_level"] == "info" and e["reason"] for e in grants)
    pre = [e for e in logs if e["event"] == "raft_vote_granted" and e["pre_vote"]]
    assert all(e["log_level"] == "debug" for e in pre)  # repeated by a partitioned node


async def test_follower_propose_raises_not_leader_and_reads_are_linearizable(autojump_clock):
    """Goal: a follower refuses proposals with the leader hint; a follower's
    read_index returns only once it has applied every acknowledged write."""
    router, machines = _cluster()
    async with trio.open_nursery() as nursery:
        for d in router.drivers.values():
            await nursery.start(d.run)
        await _until(lambda: _leader(router) is not None)
        lid = _leader(router)
        follower_id = next(i for i in router.drivers if i != lid)
        follower = router.drivers[follower_id]
        await _until(lambda: follower.core.leader_id == lid)
        with pytest.raises(NotLeaderError) as err:
            await follower.propose(b"x", timeout_s=5)
        assert err.value.leader_id == lid
        await router.drivers[lid].propose(b"acked", timeout_s=5)
        index = await follower.read_index(timeout_s=5)
        assert follower.core.log.applied >= index
        assert b"acked" in machines[follower_id].values
        nursery.cancel_scope.cancel()


async def test_transfer_and_isolated_leader_timeout(autojump_clock):
    """Goal: transfer_leadership moves leadership to the target; a proposal on
    an isolated leader times out with RaftTimeoutError."""
    router, machines = _cluster()
    async with trio.open_nursery() as nursery:
        for d in router.drivers.values():
            await nursery.start(d.run)
        await _until(lambda: _leader(router) is not None)
        lid = _leader(router)
        target = next(i for i in router.drivers if i != lid)
        await router.drivers[lid].transfer_leadership(target, timeout_s=5)
        await _until(lambda: _leader(router) == target)
        router.cut.add(target)
        with pytest.raises((RaftTimeoutError, NotLeaderError)):
            await router.drivers[target].propose(b"lost?", timeout_s=1)
        nursery.cancel_scope.cancel()


async def test_automatic_snapshot_compacts_the_log(autojump_clock):
    """Goal: after snapshot_entries_max applied entries the driver snapshots
    the state machine and compacts storage, and the cluster keeps working."""
    router, machines = _cluster(snapshot_entries_max=10, catchup_entries=2)
    async with trio.open_nursery() as nursery:
        for d in router.drivers.values():
            await nursery.start(d.run)
        await _until(lambda: _leader(router) is not None)
        leader = router.drivers[_leader(router)]
        for i in range(25):
            await leader.propose(b"s%d" % i, timeout_s=5)
        snap = leader.storage.snapshot()
        assert snap.meta.index >= 10
        assert leader.storage.first_index() > 1
        assert b"s5" in snap.data
        nursery.cancel_scope.cancel()


async def test_single_node_on_disk_survives_restart(tmp_path):
    """Goal: a one-node quorum on DiskStorage (real fsyncs in a worker
    thread) applies proposals, snapshots, and after a restart rebuilds the
    same state from snapshot + log."""
    conf = ConfigState(frozenset({1}))
    cfg = RaftConfig(election_timeout_ticks=3, heartbeat_ticks=1)

    async def run_node(action):
        storage = DiskStorage.open(tmp_path / "metadata", conf)
        machine = ListMachine()
        driver = RaftDriver(
            RaftCore(1, cfg, storage, random.Random(0)), storage, Router().transport(1), machine,
            tick_ms=5, node_id=1, limits=DriverLimits(snapshot_entries_max=4, catchup_entries=1),
        )
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                await nursery.start(driver.run)
                await _until(lambda: driver.core.role == Role.LEADER, timeout_s=20)
                await action(driver, machine)
                nursery.cancel_scope.cancel()
        storage.close()
        return machine

    async def write(driver, machine):
        for i in range(7):
            await driver.propose(b"d%d" % i, timeout_s=5)

    async def read(driver, machine):
        await driver.read_index(timeout_s=5)

    first = await run_node(write)
    second = await run_node(read)
    assert first.values == [b"d%d" % i for i in range(7)]
    assert second.values == first.values


async def test_propose_with_stale_expected_term_is_refused(autojump_clock):
    """Goal: propose(expected_term=T) appends nothing when this node does not
    lead term T (the controller's fencing), and works for the current term."""
    router, machines = _cluster()
    async with trio.open_nursery() as nursery:
        for d in router.drivers.values():
            await nursery.start(d.run)
        await _until(lambda: _leader(router) is not None)
        leader = router.drivers[_leader(router)]
        term = leader.core.term
        last = leader.core.log.last_index()
        with pytest.raises(NotLeaderError):
            await leader.propose(b"stale", timeout_s=5, expected_term=term - 1)
        assert leader.core.log.last_index() == last
        assert await leader.propose(b"fresh", timeout_s=5, expected_term=term) == 1
        nursery.cancel_scope.cancel()
