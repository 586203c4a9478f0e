"""The topics in a consumer's subscription (Kafka's ConsumerProtocolSubscription:
int16 version, then an array of int16-length strings; later fields
ignored). Used by OffsetDelete (GROUP_SUBSCRIBED_TO_TOPIC)."""

from __future__ import annotations

import struct

TOPICS_MAX = 100_000


def subscription_topics(metadata: bytes) -> set[str]:
    """Raises ValueError on a malformed subscription."""
    try:
        (_version, count) = struct.unpack_from(">hi", metadata, 0)
        if not 0 <= count <= TOPICS_MAX:
            raise ValueError(f"topic count {count}")
        pos = 6
        out = set()
        for _ in range(count):
            (n,) = struct.unpack_from(">h", metadata, pos)
            pos += 2
            if n < 0 or pos + n > len(metadata):
                raise ValueError("truncated topic name")
            out.add(metadata[pos:pos + n].decode("utf-8"))
            pos += n
        return out
    except struct.error as exc:
        raise ValueError(str(exc)) from None


def encode_subscription(topics: list[str], version: int = 0) -> bytes:
    """A v0 subscription (tests and tools)."""
    parts = [struct.pack(">hi", version, len(topics))]
    for t in topics:
        b = t.encode()
        parts.append(struct.pack(">h", len(b)) + b)
    parts.append(struct.pack(">i", -1))  # null user data
    return b"".join(parts)
