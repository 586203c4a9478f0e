"""The controller service on a real single-node RaftDriver (memory storage,
MockClock): the DriverRaftHandle adapter proposes, waits for apply, fences
stale terms and passes the activation barrier."""

from __future__ import annotations

import random

import pytest
import trio

from rafka.broker.controller import requests as rq
from rafka.broker.controller.controller import Controller
from rafka.broker.controller.service import ControllerService
from rafka.broker.node.state_machine import NodeStateMachine
from rafka.broker.node.raft_handle import DriverRaftHandle
from rafka.raft.config import RaftConfig
from rafka.raft.core import RaftCore
from rafka.raft.driver import RaftDriver
from rafka.raft.errors import NotLeaderError
from rafka.raft.storage import MemoryStorage
from rafka.raft.types import ConfigState


class NullTransport:
    def send(self, msg) -> None:  # a single voter never sends
        pass


async def start_single_node(nursery):
    sm = NodeStateMachine()
    storage = MemoryStorage(ConfigState(voters=frozenset({1})))
    core = RaftCore(1, RaftConfig(election_timeout_ticks=4, heartbeat_ticks=1), storage, random.Random(1))
    driver = RaftDriver(core, storage, NullTransport(), sm, tick_ms=50, node_id=1)
    await nursery.start(driver.run)
    return driver, sm


async def test_service_on_real_driver(nursery, autojump_clock):
    """Goal: with a real driver the service activates once the node leads,
    commits a registration and a topic as entries applied to the image, and
    a proposal for a term the node does not lead is refused unappended."""
    driver, sm = await start_single_node(nursery)
    handle = DriverRaftHandle(driver)
    service = ControllerService(1, handle, sm, Controller(1, rng=random.Random(2)))
    await nursery.start(service.run)
    with trio.fail_after(10):
        while not service.is_active():
            await trio.sleep(0.05)  # wait-ok: a poll bounded by fail_after
    term = handle.leadership().term
    epoch = (await service.submit(rq.BrokerRegistrationRequest(1, "inc", "127.0.0.1", 9192), 5)).broker_epoch
    await service.submit(rq.BrokerHeartbeatRequest(1, epoch, sm.image.offset), 5)
    resp = await service.submit(rq.CreateTopicsRequest([rq.CreatableTopic("t", 2, 1)]), 5)
    assert resp.results[0].error_code == 0
    assert sm.image.topic("t") is not None and not sm.image.brokers[1].fenced
    last = driver.core.log.last_index()
    with pytest.raises(NotLeaderError):
        await handle.propose(b"\x90", term=term + 1)
    assert driver.core.log.last_index() == last
    await handle.read_barrier()
    assert driver.core.log.applied >= last
