"""ApiVersions (key 18), versions 0-4: the served keys and their ranges.

A request of a version we do not serve never reaches this handler: the
dispatcher answers it with a v0 body, error 35 (UNSUPPORTED_VERSION) and
the same ranges, so the client can retry with a version we serve."""

from __future__ import annotations

from rafka.broker.kafka.context import RequestContext

API_KEY = 18
MIN_VERSION = 0
MAX_VERSION = 4


def body(error_code: int = 0) -> dict:
    from rafka.broker.kafka.registry import version_ranges

    return {"error_code": error_code, "api_keys": version_ranges(), "throttle_time": 0}


async def handle(ctx: RequestContext, request) -> dict:
    return body()
