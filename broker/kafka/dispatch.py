"""One request frame in, one response frame out (bytes, no sockets).

- A served (key, version): kio decodes the body, the key's module handles
  it, its answer is fitted to that version's response entity and encoded
  with the right response header.
- ApiVersions of a version we do not serve: a v0 body with error 35
  (UNSUPPORTED_VERSION) and our ranges, so the client can downgrade.
- Any other key/version kio knows but we do not serve: that version's
  response with UNSUPPORTED_VERSION in its error fields.
- A key/version kio does not know (we cannot even shape an answer), or a
  malformed header or body: MalformedRequest/UnsupportedRequest, and the
  connection closes.

With an AnswerCache (answer_cache.py), a module that has
`cache_stamp(broker)` (its answer is a pure function of the request body
bytes and that stamp of the broker's view) and `cacheable(answer)` has its
encoded answers kept (never for a consistent read: it passes a barrier);
`respond_now` then answers the same request again synchronously, from the
bytes alone: no kio decode, no handler, no encode.
"""

from __future__ import annotations

import time

from kio.schema.api_versions.v0.response import ApiVersionsResponse as ApiVersionsResponseV0
from kio.schema.errors import ErrorCode

from rafka.broker.kafka import registry
from rafka.broker.kafka.apis import api_versions
from rafka.broker.kafka.answer_cache import AnswerCache
from rafka.broker.kafka.codec import decode_body, encode_body, encode_response, frame_response
from rafka.broker.kafka.context import NO_RESPONSE, BrokerView, RequestContext
from rafka.broker.kafka.consistency import CONSISTENT_SUFFIX
from rafka.broker.kafka.errors import KafkaApiError, UnsupportedRequest, kafka_error
from rafka.broker.kafka.header import RequestHeader, parse_request_header, peek_api, peek_plain
from rafka.broker.kafka.schemas import API_VERSIONS_KEY, request_schema, response_header_version, response_schema
from rafka.broker.kafka.shape import error_body, fit
from rafka.netproto.errors import RafkaError


async def respond(frame: bytes, broker: BrokerView, *, client_host: str = "",
                  cache: AnswerCache | None = None) -> tuple[RequestHeader, bytes]:
    """(header, response frame) for one request frame; an empty frame
    when the handler answered NO_RESPONSE (the connection sends nothing).
    Each served request is reported to `broker.observe_request` (metrics)
    when the view has one: the API, its latency and the error codes its
    answer carries."""
    header, offset = parse_request_header(frame)
    key, version = header.api_key, header.api_version
    module = registry.served(key, version)
    if module is None:
        return header, unsupported(header)
    body = decode_body(request_schema(key, version), frame, offset)
    resp_schema = response_schema(key, version)
    stamp = None
    if cache is not None and key in registry.CACHED_KEYS and not _consistent(header.client_id):
        stamp = module.cache_stamp(broker)
    started = time.perf_counter()
    try:
        data = await module.handle(RequestContext(header, broker, client_host), body)
    except KafkaApiError as exc:
        data = error_body(resp_schema, exc.code, exc.message)
    except RafkaError as exc:
        data = error_body(resp_schema, kafka_error(int(exc.code)), exc.message)
    observe = getattr(broker, "observe_request", None)
    if observe is not None:
        observe(module.__name__.rpartition(".")[2], time.perf_counter() - started, data)
    if data is NO_RESPONSE:
        return header, b""  # acks=0 produce: nothing goes back
    encoded = encode_body(fit(resp_schema, data))
    if stamp is not None and module.cacheable(data) and module.cache_stamp(broker) == stamp:
        cache.put(stamp, (key, version, frame[offset:]), encoded,
                  (module.__name__.rpartition(".")[2], error_summary(data)))
    return header, frame_response(header.correlation_id, response_header_version(key, version), encoded)


def respond_now(frame: bytes, broker: BrokerView, cache: AnswerCache) -> bytes | None:
    """The response frame for a request answered before under the broker's
    current view (see the module docstring), or None: then `respond`.
    Never raises on a bad frame (respond will say what is wrong)."""
    if peek_api(frame)[0] not in registry.CACHED_KEYS:
        return None
    started = time.perf_counter()
    peek = peek_plain(frame)
    if peek is None:
        return None
    key, version, correlation_id, client_id, offset = peek
    module = registry.served(key, version)
    if module is None or _consistent(client_id):
        return None
    hit = cache.get(module.cache_stamp(broker), (key, version, frame[offset:]))
    if hit is None:
        return None
    encoded, (api, summary) = hit
    observe = getattr(broker, "observe_request", None)
    if observe is not None:
        observe(api, time.perf_counter() - started, summary)
    return frame_response(correlation_id, response_header_version(key, version), encoded)


def _consistent(client_id: str | None) -> bool:
    """A consistent read (consistency.py) passes its barrier every time:
    never answered from the cache."""
    return client_id is not None and client_id.endswith(CONSISTENT_SUFFIX)


def error_summary(data) -> dict:
    """What metrics see of a cached answer on each reuse: its nonzero error
    codes, found once (not by walking the whole answer on every hit)."""
    codes: set[int] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            code = item.get("error_code")
            code = getattr(code, "value", code)
            if isinstance(code, int) and code != 0:
                codes.add(code)
            stack.extend(v for v in item.values() if isinstance(v, (dict, list, tuple)))
        elif isinstance(item, (list, tuple)):
            stack.extend(v for v in item if isinstance(v, (dict, list, tuple)))
    return {"errors": [{"error_code": c} for c in sorted(codes)]} if codes else {}


def unsupported(header: RequestHeader) -> bytes:
    key, version = header.api_key, header.api_version
    if key == API_VERSIONS_KEY:
        body = fit(ApiVersionsResponseV0, api_versions.body(ErrorCode.unsupported_version))
        return encode_response(header.correlation_id, 0, body)
    schema = response_schema(key, version)
    if schema is None:
        raise UnsupportedRequest(f"api key {key} version {version} is unknown")
    body = error_body(schema, ErrorCode.unsupported_version, f"api key {key} version {version} is not served")
    return encode_response(header.correlation_id, response_header_version(key, version), body)
