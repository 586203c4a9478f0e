"""A nursery for a context manager's background tasks.

Why: with trio's strict exception groups, an exception raised in the body of
``async with trio.open_nursery()`` comes out wrapped in an ExceptionGroup.
For ``async with open_connection(...) as conn:`` that would turn a plain
``RafkaError`` from ``conn.call`` into a group the caller cannot catch with
``except RafkaError``. Here the body's exception is held while the
background tasks are cancelled, then re-raised unwrapped. Cancellation and
other BaseExceptions pass through untouched (trio routes them). Background
tasks are expected to handle their own errors; one that does not surfaces
as an ExceptionGroup (a bug).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import trio


@asynccontextmanager
async def open_background_nursery() -> AsyncIterator[trio.Nursery]:
    body_error: Exception | None = None
    async with trio.open_nursery() as nursery:
        try:
            yield nursery
        except Exception as exc:
            body_error = exc
        finally:
            nursery.cancel_scope.cancel()
    if body_error is not None:
        raise body_error
