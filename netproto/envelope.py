"""The envelope inside each frame (pure; no I/O).

A frame's payload is one msgpack array ``[kind, correlation_id, a, b]``:

- ``REQUEST``  ``[0, corr, type_name, body]``: expects one RESPONSE or ERROR
  with the same ``corr``;
- ``RESPONSE`` ``[1, corr, type_name, body]``;
- ``ERROR``    ``[2, corr, error_code, message]``; ``corr == 0`` means the
  whole connection failed and is about to be closed;
- ``ONEWAY``   ``[3, 0, type_name, body]``: no reply ever (Raft traffic).

Why an array and not a map: it is smaller and faster, and the shape is fixed.
msgpack is decoded with strict size limits (NetLimits) so a small frame can
never expand into a huge object; anything that is not this shape raises
``CorruptEnvelope`` (CORRUPT_MESSAGE) and the connection must be closed.
Bodies are validated separately by ``schema.from_wire`` (an invalid body is
answered with INVALID_REQUEST and the connection stays usable).
"""

from __future__ import annotations

from typing import Any

import msgpack

from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.framing import encode_frame
from rafka.netproto.limits import NetLimits
from rafka.netproto.schema import InvalidMessage, Message, to_wire

REQUEST = 0
RESPONSE = 1
ERROR = 2
ONEWAY = 3
_MESSAGE_KINDS = (REQUEST, RESPONSE, ONEWAY)
CORRELATION_ID_MAX = 2**31 - 1
ERROR_MESSAGE_CHARS_MAX = 2000


class CorruptEnvelope(RafkaError):
    """Bytes that are not a well-formed envelope (code CORRUPT_MESSAGE)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.CORRUPT_MESSAGE, message)


def encode_message(kind: int, corr_id: int, msg: Message, frame_bytes_max: int) -> bytes:
    """A framed REQUEST/RESPONSE/ONEWAY. Raises InvalidMessage for a bad
    field and FrameError(MESSAGE_TOO_LARGE) for an oversized message."""
    body = to_wire(msg)
    try:
        payload = msgpack.packb([kind, corr_id, msg.TYPE, body], use_bin_type=True)
    except (OverflowError, ValueError, TypeError) as exc:  # e.g. an int beyond 64 bits
        raise InvalidMessage(f"{type(msg).__name__} cannot be encoded: {exc}") from None
    return encode_frame(payload, frame_bytes_max)


def encode_error(corr_id: int, code: ErrorCode | int, message: str, frame_bytes_max: int) -> bytes:
    """A framed ERROR; the message text is cut to a bounded length."""
    text = str(message)[:ERROR_MESSAGE_CHARS_MAX]
    payload = msgpack.packb([ERROR, corr_id, int(code), text], use_bin_type=True)
    return encode_frame(payload, frame_bytes_max)


def decode_envelope(payload: bytes, limits: NetLimits) -> tuple[int, int, Any, Any]:
    """``(kind, corr, a, b)`` from a frame payload; CorruptEnvelope if the
    payload is not valid msgpack within limits or not an envelope."""
    try:
        obj = msgpack.unpackb(
            payload,
            raw=False,
            use_list=True,
            strict_map_key=False,
            max_str_len=limits.msgpack_str_len_max,
            max_bin_len=limits.frame_bytes_max,
            max_array_len=limits.msgpack_array_len_max,
            max_map_len=limits.msgpack_map_len_max,
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises many types for garbage input
        raise CorruptEnvelope(f"undecodable msgpack: {type(exc).__name__}: {exc}"[:200]) from None
    if type(obj) is not list or len(obj) != 4:
        raise CorruptEnvelope("envelope is not a 4-element array")
    kind, corr, a, b = obj
    if type(kind) is not int or type(corr) is not int or not 0 <= corr <= CORRELATION_ID_MAX:
        raise CorruptEnvelope("bad envelope kind or correlation id")
    if kind in _MESSAGE_KINDS:
        if type(a) is not str:
            raise CorruptEnvelope("message type name is not a string")
    elif kind == ERROR:
        if type(a) is not int or type(b) is not str:
            raise CorruptEnvelope("malformed error envelope")
    else:
        raise CorruptEnvelope(f"unknown envelope kind {kind}")
    return kind, corr, a, b


def error_from_wire(code: int, message: str) -> RafkaError:
    """The RafkaError an ERROR envelope stands for (unknown numbers map to
    UNKNOWN_SERVER_ERROR, keeping the text)."""
    try:
        err_code = ErrorCode(code)
    except ValueError:
        err_code = ErrorCode.UNKNOWN_SERVER_ERROR
        message = f"error code {code}: {message}"
    return RafkaError(err_code, message)
