"""AlterConfigs (key 33), versions 0-2: a topic's overrides become exactly
the given set (keys not given return to their defaults), like Kafka's
legacy, non-incremental semantics."""

from __future__ import annotations

from rafka.broker.kafka.apis.alter_common import alter
from rafka.broker.kafka.context import RequestContext

API_KEY = 33
MIN_VERSION = 0
MAX_VERSION = 2


def _changes(res, topic) -> dict[str, str | None]:
    given = {c.name: c.value for c in res.configs}
    current = topic.configs if topic is not None else {}
    return {**{k: None for k in current if k not in given}, **given}


async def handle(ctx: RequestContext, request) -> dict:
    return await alter(ctx, request.resources, request.validate_only, _changes)
