"""AddRaftVoter (key 80), versions 0-1: promote a caught-up observer to
voter (see raft_voters.py)."""

from __future__ import annotations

from rafka.broker.kafka.apis.raft_voters import change
from rafka.broker.kafka.context import RequestContext

API_KEY = 80
MIN_VERSION = 0
MAX_VERSION = 1


async def handle(ctx: RequestContext, request) -> dict:
    return await change(ctx, "add", request)
