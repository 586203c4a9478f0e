"""Encoded answers reused while the broker's view has not changed.

Why: a client polling Metadata asks the same question again and again, and
decoding it, building the answer and encoding it with kio costs far more
than moving its bytes. An API module whose answer is a pure function of
(the request body bytes, a *stamp* of the broker's view) declares it with
`cache_stamp(broker, header)` (module.py) and dispatch keeps the encoded
response body here, keyed by (api key, version, request body bytes).

The cache holds answers for one stamp only: a lookup or a store under any
other stamp first empties it (Metadata's stamp is the metadata image and
its offset and the active controller, so a created or deleted topic, a
moved leader or a fenced broker -- every one a new image offset -- drops
every answer). Bounded by `answers_cached_bytes_max` (body bytes plus keys)
and ANSWERS_CACHED_MAX entries: the oldest go first.
"""

from __future__ import annotations

from typing import Any

# Entries at most, whatever their size.
ANSWERS_CACHED_MAX = 1024


class AnswerCache:
    def __init__(self, bytes_max: int) -> None:
        self.bytes_max = bytes_max
        self.bytes = 0
        self.hits = 0
        self._stamp: Any = None
        self._entries: dict[tuple, tuple[bytes, Any]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _at(self, stamp: Any) -> None:
        if stamp != self._stamp:
            self._entries.clear()
            self.bytes = 0
            self._stamp = stamp

    def get(self, stamp: Any, key: tuple) -> tuple[bytes, Any] | None:
        """(encoded body, what the handler answered) for `key` under
        `stamp`, or None."""
        self._at(stamp)
        hit = self._entries.get(key)
        if hit is not None:
            self.hits += 1
        return hit

    def put(self, stamp: Any, key: tuple, body: bytes, summary: Any) -> None:
        """Keep `body` (and `summary`, what metrics see of the answer) for
        `key` under `stamp`; an entry bigger than the whole cache is not
        kept."""
        self._at(stamp)
        size = _size(key, body)
        if size > self.bytes_max or key in self._entries:
            return
        while self._entries and (self.bytes + size > self.bytes_max or len(self._entries) >= ANSWERS_CACHED_MAX):
            old_key = next(iter(self._entries))
            old_body, _ = self._entries.pop(old_key)
            self.bytes -= _size(old_key, old_body)
        self._entries[key] = (body, summary)
        self.bytes += size


def _size(key: tuple, body: bytes) -> int:
    return len(body) + sum(len(k) for k in key if isinstance(k, bytes))
