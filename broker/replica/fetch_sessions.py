"""Incremental fetch sessions (KIP-227): the per-broker FetchSessionCache (pure).

Kafka's FetchManager/FetchSessionCache without I/O, trio or clocks (time is
passed in). A consumer's Fetch carries (session_id, session_epoch):

- epoch -1 (FINAL): a full, sessionless fetch; a named session is closed.
  librdkafka always fetches this way.
- epoch 0 (INITIAL): a full fetch that asks for a new session (closing the
  named one, if any). The answer lists every partition and carries the new
  session id (0 when the cache has no room: the client keeps full fetches).
  The session remembers each partition's fetch state and what the answer
  said (high watermark, log start offset).
- epoch > 0: an incremental fetch of session `session_id`: unknown id ->
  FETCH_SESSION_ID_NOT_FOUND, wrong epoch -> INVALID_FETCH_SESSION_EPOCH.
  Partitions in the request are added or updated, `forgotten_topics_data`
  removed; every partition of the session is read, and the answer lists only
  those with news: records, an error, a moved high watermark or log start
  (Kafka's CachedPartition.maybeUpdateResponseData). The epoch advances on
  each accepted request (wrapping after 2^31-1 to 1, like the clients).

Bounds: at most `sessions_max` sessions (Kafka's
max.incremental.fetch.session.cache.slots, 1000). A new session may evict
the least recently used one when it has been idle `idle_ms` (Kafka's 120 s
eviction), else the smallest session when the new one is bigger (Kafka's
"more valuable" rule for consumer sessions); otherwise it is not created.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

INVALID_SESSION_ID = 0
INITIAL_EPOCH = 0
FINAL_EPOCH = -1
EPOCH_MAX = 2**31 - 1
SESSION_ID_MAX = 2**31 - 1
FETCH_SESSIONS_MAX = 1000     # Kafka's max.incremental.fetch.session.cache.slots
SESSION_IDLE_MS = 120_000     # Kafka's fetch session eviction time

# Kafka's error codes of session failures (the answer's top-level error_code).
FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71

TopicPartition = tuple[str, int]


class FetchSessionError(Exception):
    """A request naming an unknown session or the wrong epoch; `code` is
    Kafka's error code for the whole answer."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def next_epoch(epoch: int) -> int:
    return 1 if epoch >= EPOCH_MAX else epoch + 1


@dataclass
class SessionPartition:
    """One partition of a session: what the client asked (updated by each
    request that names it) and what the last answer naming it said."""

    fetch_offset: int
    partition_max_bytes: int
    current_leader_epoch: int = -1
    last_fetched_epoch: int = -1
    high_watermark: int = -1  # as last sent; -1: never sent
    log_start_offset: int = -1

    def update_request(self, other: "SessionPartition") -> None:
        self.fetch_offset = other.fetch_offset
        self.partition_max_bytes = other.partition_max_bytes
        self.current_leader_epoch = other.current_leader_epoch
        self.last_fetched_epoch = other.last_fetched_epoch


@dataclass(frozen=True)
class PartitionAnswer:
    """What a read of one partition gave (the handler's FetchResult, trimmed)."""

    error_code: int
    high_watermark: int
    log_start_offset: int
    has_records: bool = False
    diverging: bool = False


@dataclass
class FetchSession:
    id: int
    epoch: int  # the epoch the next incremental request must carry
    partitions: dict[TopicPartition, SessionPartition]
    created_ms: int
    last_used_ms: int


@dataclass
class FetchContext:
    """How to serve one Fetch: which partitions to read (in order) and, after
    the read, `FetchSessionCache.complete` says which to answer."""

    incremental: bool
    partitions: list[tuple[TopicPartition, SessionPartition]]
    session: FetchSession | None = None
    create_session: bool = False  # a full fetch asking for a session (epoch 0)
    events: list[tuple[str, dict]] = field(default_factory=list)  # for the caller's log


class FetchSessionCache:
    def __init__(self, sessions_max: int = FETCH_SESSIONS_MAX, *, idle_ms: int = SESSION_IDLE_MS,
                 rng: random.Random | None = None) -> None:
        if sessions_max < 0:
            raise ValueError("sessions_max must be >= 0")
        self.sessions_max = sessions_max
        self.idle_ms = idle_ms
        self.rng = rng or random.Random()
        self.sessions: dict[int, FetchSession] = {}
        self.evictions = 0

    def __len__(self) -> int:
        return len(self.sessions)

    # ------------------------------------------------------------ requests
    def new_context(self, session_id: int, epoch: int, wanted: Iterable[tuple[TopicPartition, SessionPartition]],
                    forgotten: Iterable[TopicPartition], now_ms: int) -> FetchContext:
        """The context for one request; raises FetchSessionError
        (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH)."""
        wanted = list(dict(wanted).items())  # each partition once (a repeated one: its last ask)
        if epoch in (INITIAL_EPOCH, FINAL_EPOCH):
            ctx = FetchContext(incremental=False, partitions=wanted, create_session=epoch == INITIAL_EPOCH)
            if session_id != INVALID_SESSION_ID and self.sessions.pop(session_id, None) is not None:
                ctx.events.append(("fetch_session_closed", {"session_id": session_id}))
            return ctx
        if epoch < 0:
            raise FetchSessionError(INVALID_FETCH_SESSION_EPOCH, f"session epoch {epoch}")
        session = self.sessions.get(session_id) if session_id != INVALID_SESSION_ID else None
        if session is None:
            raise FetchSessionError(FETCH_SESSION_ID_NOT_FOUND, f"fetch session {session_id} not found")
        if epoch != session.epoch:
            raise FetchSessionError(INVALID_FETCH_SESSION_EPOCH,
                             f"fetch session {session_id}: epoch {epoch}, expected {session.epoch}")
        for tp, req in wanted:
            cached = session.partitions.get(tp)
            if cached is None:
                session.partitions[tp] = req
            else:
                cached.update_request(req)
        for tp in forgotten:
            session.partitions.pop(tp, None)
        session.epoch = next_epoch(session.epoch)
        session.last_used_ms = now_ms
        return FetchContext(incremental=True, partitions=list(session.partitions.items()), session=session)

    def complete(self, ctx: FetchContext, answers: list[PartitionAnswer], now_ms: int) -> tuple[int, list[bool]]:
        """After the read (`answers` in `ctx.partitions` order): the session id
        to answer with and, per partition, whether the answer lists it."""
        if not ctx.incremental:
            session_id = INVALID_SESSION_ID
            if ctx.create_session:
                session = self._create(ctx, now_ms)
                if session is not None:
                    session_id = session.id
                    for (_tp, sp), ans in zip(ctx.partitions, answers):
                        sp.high_watermark, sp.log_start_offset = ans.high_watermark, ans.log_start_offset
            return session_id, [True] * len(answers)
        include = []
        for (_tp, sp), ans in zip(ctx.partitions, answers):
            news = (ans.has_records or ans.error_code != 0 or ans.diverging
                    or ans.high_watermark != sp.high_watermark or ans.log_start_offset != sp.log_start_offset)
            if news:
                sp.high_watermark, sp.log_start_offset = ans.high_watermark, ans.log_start_offset
            include.append(news)
        return ctx.session.id, include

    # ------------------------------------------------------------ sessions
    def _create(self, ctx: FetchContext, now_ms: int) -> FetchSession | None:
        size = len(ctx.partitions)
        if len(self.sessions) >= self.sessions_max and not self._evict_for(size, now_ms, ctx):
            return None
        session_id = self._new_id()
        partitions = dict(ctx.partitions)
        session = FetchSession(session_id, next_epoch(INITIAL_EPOCH), partitions, now_ms, now_ms)
        self.sessions[session_id] = session
        ctx.events.append(("fetch_session_created", {"session_id": session_id, "partitions": len(partitions),
                                                     "sessions": len(self.sessions)}))
        return session

    def _evict_for(self, size: int, now_ms: int, ctx: FetchContext) -> bool:
        if not self.sessions:
            return False
        lru = min(self.sessions.values(), key=lambda s: (s.last_used_ms, s.id))
        if now_ms - lru.last_used_ms > self.idle_ms:
            victim = lru
        else:
            smallest = min(self.sessions.values(), key=lambda s: (len(s.partitions), s.last_used_ms, s.id))
            if size <= len(smallest.partitions):
                return False
            victim = smallest
        del self.sessions[victim.id]
        self.evictions += 1
        ctx.events.append(("fetch_session_evicted", {"session_id": victim.id, "partitions": len(victim.partitions),
                                                     "idle_ms": now_ms - victim.last_used_ms}))
        return True

    def _new_id(self) -> int:
        while True:
            session_id = self.rng.randint(1, SESSION_ID_MAX)
            if session_id not in self.sessions:
                return session_id
