"""Linearizable reads for the rafka CLI over the Kafka protocol.

Kafka's Metadata and DescribeConfigs answer from a broker's possibly lagging
view; `rafka topics list|describe --consistent` promises a linearizable
read. A client whose client id ends with CONSISTENT_SUFFIX gets one: the
handler first passes a ReadIndex barrier (its image then holds everything
committed before the request). Other clients are unaffected.
"""

from __future__ import annotations

from rafka.broker.kafka.context import RequestContext

CONSISTENT_SUFFIX = "+consistent"


def wants_consistent(ctx: RequestContext) -> bool:
    client_id = ctx.header.client_id
    return client_id is not None and client_id.endswith(CONSISTENT_SUFFIX)


async def barrier_if_asked(ctx: RequestContext) -> None:
    if wants_consistent(ctx):
        await ctx.broker.barrier()
