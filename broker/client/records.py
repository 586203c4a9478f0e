"""Records as the CLI reads and prints them. Pure: no client, no I/O.

- `split_line(line, key_separator)`: one stdin line -> (key, value); with a
  separator the text before its first occurrence is the key (a line without
  it is an error, as in Kafka's console producer with parse.key=true).
- `parse_headers(["K=V", ...])`: record headers, in order (keys may repeat).
- `record_to_json(...)`: DESIGN.md's shape for `rafka consume --json`:
  {"topic", "partition", "offset", "timestamp", "key", "value", "headers"},
  keys, values and header values as text when valid UTF-8, else
  {"base64": ...}; null stays null.
"""

from __future__ import annotations

import base64
from typing import Iterable, Sequence

LINE_BYTES_MAX = 1 << 20  # one stdin line (a record value) at most


class RecordInputError(ValueError):
    """A line or header that cannot become a record; the message says why."""


def split_line(line: str, key_separator: str | None) -> tuple[bytes | None, bytes]:
    text = line[:-1] if line.endswith("\n") else line
    data_len = len(text.encode("utf-8"))
    if data_len > LINE_BYTES_MAX:
        raise RecordInputError(f"line of {data_len} bytes is over {LINE_BYTES_MAX}")
    if key_separator is None:
        return None, text.encode("utf-8")
    key, sep, value = text.partition(key_separator)
    if not sep:
        raise RecordInputError(f"no key separator {key_separator!r} in line {text[:60]!r}")
    return key.encode("utf-8"), value.encode("utf-8")


def parse_headers(items: Iterable[str]) -> list[tuple[str, bytes]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RecordInputError(f"--header {item!r}: expected KEY=VALUE")
        out.append((key, value.encode("utf-8")))
    return out


def as_text(data: bytes | None) -> str | dict | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def record_to_json(topic: str, partition: int, offset: int, timestamp_ms: int | None, key: bytes | None,
                   value: bytes | None, headers: Sequence[tuple[str, bytes | None]] | None) -> dict:
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp": timestamp_ms,
        "key": as_text(key),
        "value": as_text(value),
        "headers": [{"key": k, "value": as_text(v)} for k, v in (headers or ())],
    }
