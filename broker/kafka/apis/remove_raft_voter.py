"""RemoveRaftVoter (key 81), version 0: remove a voter from the metadata
quorum (see raft_voters.py)."""

from __future__ import annotations

from rafka.broker.kafka.apis.raft_voters import change
from rafka.broker.kafka.context import RequestContext

API_KEY = 81
MIN_VERSION = 0
MAX_VERSION = 0


async def handle(ctx: RequestContext, request) -> dict:
    return await change(ctx, "remove", request)
