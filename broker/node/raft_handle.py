"""`DriverRaftHandle`: the controller service's view of a `raft.driver.RaftDriver`.

Why an adapter: the controller service (broker/controller/service.py) is
written against the small `RaftHandle` protocol so it can be tested with a
fake; this module maps that protocol onto the real driver.

- `leadership()` reads the core's role/term/leader directly (the driver's
  loop owns the core, but reading plain attributes from another trio task is
  safe: trio is single-threaded).
- `propose(data, term=T)` refuses at once (NotLeaderError: surely not
  appended) unless this node leads term T, then hands the entry to the
  driver with `expected_term=T`, so the term is checked again inside the
  driver loop right before the append: an entry decided in term T can only
  ever be appended in term T.
- `read_barrier()` is the driver's ReadIndex; on the leader it also waits
  until every entry already in its log at call time is applied, so a
  proposal whose outcome was unknown is settled (committed by this term's
  leader or gone with a leader change) before anyone decides on the image.
"""

from __future__ import annotations

import trio

from rafka.broker.controller.service import Leadership
from rafka.raft.errors import NotLeaderError
from rafka.raft.types import Role


class DriverRaftHandle:
    def __init__(
        self,
        driver,
        *,
        propose_timeout_ms: int = 30_000,
        read_timeout_ms: int = 10_000,
        applied_poll_ms: int = 10,
    ) -> None:
        self.driver = driver
        self.propose_timeout_s = propose_timeout_ms / 1000
        self.read_timeout_s = read_timeout_ms / 1000
        self.applied_poll_s = applied_poll_ms / 1000

    def leadership(self) -> Leadership:
        core = self.driver.core
        return Leadership(core.role == Role.LEADER, core.term, core.leader_id)

    async def propose(self, data: bytes, *, term: int) -> object:
        lead = self.leadership()
        if not lead.is_leader or lead.term != term:
            raise NotLeaderError(lead.leader_id, f"not the leader of term {term} (now term {lead.term})")
        # The driver appends only while this node still leads `term`, checked
        # atomically with the append (a check here alone would race a
        # leadership change between the check and the append).
        return await self.driver.propose(data, timeout_s=self.propose_timeout_s, expected_term=term)

    async def read_barrier(self) -> None:
        core = self.driver.core
        start_term = core.term
        target = core.log.last_index() if core.role == Role.LEADER else 0
        await self.driver.read_index(timeout_s=self.read_timeout_s)
        while core.log.applied < target:
            if core.role != Role.LEADER or core.term != start_term:
                raise NotLeaderError(core.leader_id, "leadership changed during the barrier")
            await trio.sleep(self.applied_poll_s)
