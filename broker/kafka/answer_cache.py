"""Encoded answers reused while the broker's view has not changed.

Why: a client polling Metadata asks the same question again and again, and
decoding it, building the answer and encoding it with kio costs far more
than moving its bytes. An API module whose answer is a pure function of
(the request bytes, a *stamp* of the broker's view) declares it with
`cache_stamp(broker)` (dispatch.py) and dispatch keeps the encoded
response body here, keyed by the request frame without its correlation id
(api key, version, client id, header tags, body: the same bytes always
parse the same way, so a hit needs no header parsing at all).

The cache holds answers for one stamp only: a store under another stamp,
or a lookup that finds the view moved, first empties it (Metadata's stamp
is the metadata image, its offset and the active controller, so a created
or deleted topic, a moved leader or a fenced broker -- every one a new
image offset -- drops every answer). Bounded by `answers_cached_bytes_max`
(body and key bytes) and ANSWERS_CACHED_MAX entries: the oldest go first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

# Entries at most, whatever their size.
ANSWERS_CACHED_MAX = 1024


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    body: bytes  # the encoded response body
    header_version: int  # of the response header
    api: str  # the API's name, for metrics
    summary: Any  # what metrics see of the answer (its error codes)
    stamp_of: Callable[[Any], Any]  # the module's cache_stamp


def request_key(frame: bytes) -> bytes:
    """A request frame (without its size) minus its correlation id."""
    return frame[:4] + frame[8:]


class AnswerCache:
    def __init__(self, bytes_max: int) -> None:
        self.bytes_max = bytes_max
        self.bytes = 0
        self.hits = 0
        self._stamp: Any = None
        self._entries: dict[bytes, CachedAnswer] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _at(self, stamp: Any) -> None:
        if stamp != self._stamp:
            self._entries.clear()
            self.bytes = 0
            self._stamp = stamp

    def get(self, key: bytes, broker) -> CachedAnswer | None:
        """The answer kept for request `key`, if the broker's view still has
        the stamp it was made under."""
        hit = self._entries.get(key)
        if hit is None:
            return None
        stamp = hit.stamp_of(broker)
        if stamp != self._stamp:
            self._at(stamp)
            return None
        self.hits += 1
        return hit

    def put(self, stamp: Any, key: bytes, answer: CachedAnswer) -> None:
        """Keep `answer` for `key` under `stamp`; an entry bigger than the
        whole cache is not kept."""
        self._at(stamp)
        size = len(key) + len(answer.body)
        if size > self.bytes_max or key in self._entries:
            return
        while self._entries and (self.bytes + size > self.bytes_max or len(self._entries) >= ANSWERS_CACHED_MAX):
            old_key = next(iter(self._entries))
            self.bytes -= len(old_key) + len(self._entries.pop(old_key).body)
        self._entries[key] = answer
        self.bytes += size


class HitTally:
    """Requests a connection answered from the cache since its last report:
    metrics count them once per read, not once per request (a metrics
    call costs about as much as answering from the cache)."""

    __slots__ = ("_counts", "count")

    def __init__(self) -> None:
        self._counts: dict[int, list] = {}  # id(answer) -> [answer, count]
        self.count = 0

    def add(self, answer: CachedAnswer) -> None:
        self.count += 1
        slot = self._counts.get(id(answer))
        if slot is None:
            self._counts[id(answer)] = [answer, 1]
        else:
            slot[1] += 1

    def report(self, broker, seconds: float) -> None:
        """Report the tallied requests, `seconds` spent on all of them, to
        the broker's metrics (`observe_requests(api, count, seconds_each,
        response)`, else `observe_request` once each); then start over."""
        if not self.count:
            return
        each = seconds / self.count
        many = getattr(broker, "observe_requests", None)
        one = getattr(broker, "observe_request", None)
        for answer, count in self._counts.values():
            if many is not None:
                many(answer.api, count, each, answer.summary)
            elif one is not None:
                for _ in range(count):
                    one(answer.api, each, answer.summary)
        self._counts.clear()
        self.count = 0
