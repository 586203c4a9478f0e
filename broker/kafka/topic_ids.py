"""Topic ids: rafka stores Kafka's Uuid text form (16 bytes, URL-safe
base64 without padding); the wire carries the 16 bytes (kio: uuid.UUID)."""

from __future__ import annotations

import base64
import binascii
import uuid

ZERO = uuid.UUID(int=0)


def to_uuid(topic_id: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(topic_id + "=" * (-len(topic_id) % 4))
    except (binascii.Error, ValueError):
        return ZERO
    return uuid.UUID(bytes=raw) if len(raw) == 16 else ZERO


def from_uuid(value: uuid.UUID | None) -> str | None:
    if value is None or value == ZERO:
        return None
    return base64.urlsafe_b64encode(value.bytes).rstrip(b"=").decode("ascii")
