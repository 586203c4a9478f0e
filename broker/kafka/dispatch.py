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
"""

from __future__ import annotations

import time

from kio.schema.api_versions.v0.response import ApiVersionsResponse as ApiVersionsResponseV0
from kio.schema.errors import ErrorCode

from rafka.broker.kafka import registry
from rafka.broker.kafka.apis import api_versions
from rafka.broker.kafka.codec import decode_body, encode_response
from rafka.broker.kafka.context import NO_RESPONSE, BrokerView, RequestContext
from rafka.broker.kafka.errors import KafkaApiError, UnsupportedRequest, kafka_error
from rafka.broker.kafka.header import RequestHeader, parse_request_header
from rafka.broker.kafka.schemas import API_VERSIONS_KEY, request_schema, response_header_version, response_schema
from rafka.broker.kafka.shape import error_body, fit
from rafka.netproto.errors import RafkaError


async def respond(frame: bytes, broker: BrokerView, *, client_host: str = "") -> tuple[RequestHeader, bytes]:
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
    return header, encode_response(header.correlation_id, response_header_version(key, version),
                                   fit(resp_schema, data))


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
