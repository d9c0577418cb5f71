"""The requests that wait on a writer thread: taking them in batches, and waking them with
one call into each event loop per batch.

Both writers (the ingest journal, and the database writer used with PostgreSQL) answer a batch
of waiting requests at once; waking each request separately would cost a cross-thread call, and
a wake-up of its event loop, per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

Result = TypeVar("Result")
Item = TypeVar("Item")


class Waiter(Generic[Result]):
    """A request's side of a batch: its event loop and the future it awaits."""

    __slots__ = ("future", "loop")

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[Result] = self.loop.create_future()


def answer(
    batch: Sequence[Waiter[Any]], error: Exception | None, result: Callable[[Any], Any]
) -> None:
    """From the writer thread: resolve each waiter with ``result(waiter)``, or fail them all."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Waiter[Any]]] = {}
    for waiter in batch:
        by_loop.setdefault(waiter.loop, []).append(waiter)
    for loop, waiters in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits any more
            loop.call_soon_threadsafe(_resolve, waiters, error, result)


def _resolve(
    batch: list[Waiter[Any]], error: Exception | None, result: Callable[[Any], Any]
) -> None:
    for waiter in batch:
        if waiter.future.done():
            continue
        if error is None:
            waiter.future.set_result(result(waiter))
        else:
            waiter.future.set_exception(error)


def take_waiting(
    waiting: queue.SimpleQueue[Item | None], batch: list[Item], limit: int | None = None
) -> bool:
    """Add what waits in ``waiting`` to ``batch`` (up to ``limit`` in all); True if the stop
    sign (None) was among it: the writer stores this batch, then stops."""
    while limit is None or len(batch) < limit:
        try:
            more = waiting.get_nowait()
        except queue.Empty:
            return False
        if more is None:
            return True
        batch.append(more)
    return False
