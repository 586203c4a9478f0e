"""kio's request/response entity classes per (API key, version), cached.

Why a cache: resolving a kio schema imports a module by name; the hot path
(every request) must be a dict lookup.
"""

from __future__ import annotations

import functools

from kio.index import KioIndexError, load_request_schema, load_response_schema

API_VERSIONS_KEY = 18
CONTROLLED_SHUTDOWN_KEY = 7


@functools.cache
def request_schema(api_key: int, version: int) -> type | None:
    """kio's request entity for (api_key, version), None when kio has none."""
    try:
        return load_request_schema(api_key, version)
    except (KioIndexError, ImportError, ValueError, AttributeError):
        return None


@functools.cache
def response_schema(api_key: int, version: int) -> type | None:
    try:
        return load_response_schema(api_key, version)
    except (KioIndexError, ImportError, ValueError, AttributeError):
        return None


@functools.cache
def request_header_version(api_key: int, version: int) -> int:
    """Kafka's rule: v2 for flexible request versions, v1 otherwise, v0 for
    ControlledShutdown v0. A version kio does not know reads as v1 (only its
    correlation id is needed, to refuse it)."""
    if api_key == CONTROLLED_SHUTDOWN_KEY and version == 0:
        return 0
    schema = request_schema(api_key, version)
    return 2 if schema is not None and schema.__flexible__ else 1


@functools.cache
def response_header_version(api_key: int, version: int) -> int:
    """v1 for flexible responses, v0 otherwise; ApiVersions is always v0 (a
    client that does not know our versions yet must be able to read it)."""
    if api_key == API_VERSIONS_KEY:
        return 0
    schema = response_schema(api_key, version)
    return 1 if schema is not None and schema.__flexible__ else 0
