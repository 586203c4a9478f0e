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
from rafka.broker.kafka.answer_cache import AnswerCache, CachedAnswer, HitTally, request_key
from rafka.broker.kafka.codec import decode_body, encode_body, encode_response, frame_response
from rafka.broker.kafka.context import NO_RESPONSE, BrokerView, RequestContext
from rafka.broker.kafka.consistency import CONSISTENT_SUFFIX
from rafka.broker.kafka.errors import KafkaApiError, UnsupportedRequest, kafka_error
from rafka.broker.kafka.header import RequestHeader, parse_request_header, peek_correlation_id
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
    if key not in registry.BEFORE_CATCH_UP_KEYS:
        caught_up = getattr(broker, "wait_caught_up", None)
        if caught_up is not None:  # the node's view: its metadata caught up with the quorum
            await caught_up()
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
    header_version = response_header_version(key, version)
    if stamp is not None and module.cacheable(data) and module.cache_stamp(broker) == stamp:
        cache.put(stamp, request_key(frame), CachedAnswer(
            encoded, header_version, module.__name__.rpartition(".")[2], error_summary(data), module.cache_stamp))
    return header, frame_response(header.correlation_id, header_version, encoded)


def respond_now(frame: bytes, broker: BrokerView, cache: AnswerCache, tally: HitTally) -> bytes | None:
    """The response frame for a request whose very bytes (but the
    correlation id) were answered before under the broker's current view,
    or None: then `respond`. The hit is counted in `tally` (the caller
    reports it to metrics). Never raises on a bad frame: a frame that was
    never answered is never a hit."""
    hit = cache.get(request_key(frame), broker)
    if hit is None:
        return None
    tally.add(hit)
    return frame_response(peek_correlation_id(frame), hit.header_version, hit.body)


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
