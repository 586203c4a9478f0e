"""Errors of the Kafka listener and the bridge from netproto's error codes
(the same numbers as Kafka's) to kio's ErrorCode."""

from __future__ import annotations

from kio.schema.errors import ErrorCode


class MalformedRequest(Exception):
    """A frame that cannot be a valid request; the connection is closed."""


class UnsupportedRequest(Exception):
    """An API key/version we do not serve and cannot even answer with an
    error (kio has no schema for it); the connection is closed."""


class KafkaApiError(Exception):
    """A whole request fails with one Kafka error code (handlers raise it;
    the dispatcher answers with an error-shaped response)."""

    def __init__(self, code: ErrorCode, message: str = "") -> None:
        super().__init__(message or code.name)
        self.code = code
        self.message = message


def kafka_error(code: int) -> ErrorCode:
    """kio's ErrorCode for a Kafka error number (unknown numbers become
    UNKNOWN_SERVER_ERROR rather than failing the response)."""
    try:
        return ErrorCode(code)
    except ValueError:
        return ErrorCode.unknown_server_error
