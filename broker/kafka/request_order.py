"""The order of requests on one Kafka connection.

Kafka handles a connection's requests one at a time, in order, and
clients rely on it (an idempotent producer's pipelined batches must be
appended in the order sent). Waiting is another matter: an acks=all
Produce spends most of its time waiting for the ISR, and holding the
connection for that long caps a pipelining client at one request per
replication round trip.

So each request gets a turn: the connection starts request n+1 only once
request n has *released* its turn. Every request releases it when it is
answered; a handler whose ordered part is done earlier (Produce, once its
batches are appended) calls `release_turn()` and waits for the rest while
the next request runs. Responses still go out in request order (the
connection's sender).
"""

from __future__ import annotations

import contextvars

import trio

_TURN: contextvars.ContextVar[trio.Event | None] = contextvars.ContextVar("rafka_kafka_request_turn", default=None)


def begin(turn: trio.Event) -> None:
    """Connection side: this task's request holds `turn` until released."""
    _TURN.set(turn)


def release_turn() -> None:
    """Handler side: let the next request on this connection start now.
    A no-op outside a connection (direct calls in tests)."""
    turn = _TURN.get()
    if turn is not None:
        turn.set()
