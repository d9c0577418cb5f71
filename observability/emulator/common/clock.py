"""The emulator's clock: real time by default, moved forward (or set) by tests and the demo.

Entries keep the timestamps they were written with; the clock only decides what "now" is
for the emulator itself: a log-based metric's creation time, how late an entry is, the
current minute and (for alerting) when policies are evaluated. A separate-process test moves
it through the admin REST endpoints ``GET /v1/emulator/clock`` and
``POST /v1/emulator/clock:advance {"seconds": N}`` (or ``POST /v1/emulator/clock:set
{"time": "RFC 3339"}``).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any, Final

from fastapi import APIRouter, Request

from observability.emulator.common.errors import ApiError
from observability.emulator.common.rest_common import JSON_BODY, json_body

_MAX_BODY = 64 * 1024


MAX_OFFSET_SECONDS: Final = 100 * 365 * 24 * 3600
"""How far the clock may be from real time, either way: a century, far beyond any test,
and well inside what datetimes hold (year 9999) after the evaluator's own arithmetic."""


class Clock:
    """Real time plus an offset; thread-safe. ``now()`` is an aware UTC datetime."""

    def __init__(self) -> None:
        self._offset_ns = 0
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        """Nanoseconds since the epoch, on this clock."""
        return time.time_ns() + self._offset_ns

    def now(self) -> datetime:
        """The current time on this clock (UTC)."""
        ns = self.now_ns()
        return datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc).replace(
            microsecond=(ns % 1_000_000_000) // 1000
        )

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward (never backward) by ``seconds``; returns the new now.

        Raises ValueError, and leaves the clock alone, for a negative or non-finite number
        or one that would take the clock more than ``MAX_OFFSET_SECONDS`` from real time.
        """
        if not 0 <= seconds <= MAX_OFFSET_SECONDS:  # also false for NaN
            raise ValueError(f"must be between 0 and {MAX_OFFSET_SECONDS} seconds")
        with self._lock:
            self._offset_ns = _bounded(self._offset_ns + int(seconds * 1_000_000_000))
        return self.now()

    def set(self, when: datetime) -> datetime:
        """Make ``now()`` return ``when`` from this instant on (then it runs in real time).

        Raises ValueError for a naive time or one more than ``MAX_OFFSET_SECONDS`` away.
        """
        if when.tzinfo is None:
            raise ValueError("the time must be timezone-aware")
        target_ns = int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000
        with self._lock:
            self._offset_ns = _bounded(target_ns - time.time_ns())
        return self.now()

    @property
    def offset_seconds(self) -> float:
        """How far this clock is ahead of real time."""
        return self._offset_ns / 1e9


def _bounded(offset_ns: int) -> int:
    if abs(offset_ns) > MAX_OFFSET_SECONDS * 1_000_000_000:
        raise ValueError(f"the clock may be at most {MAX_OFFSET_SECONDS} seconds from real time")
    return offset_ns


def _describe(clock: Clock) -> dict[str, Any]:
    return {
        "now": clock.now().isoformat().replace("+00:00", "Z"),
        "offsetSeconds": clock.offset_seconds,
    }


def router(clock: Clock) -> APIRouter:
    """The admin REST endpoints that read and move ``clock``."""
    api = APIRouter()

    @api.get("/v1/emulator/clock")
    async def get_clock() -> dict[str, Any]:
        return _describe(clock)

    @api.post("/v1/emulator/clock:advance", openapi_extra=JSON_BODY)
    async def advance(request: Request) -> dict[str, Any]:
        body = await json_body(request, _MAX_BODY)
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ApiError.invalid("seconds: a non-negative number is required")
        try:
            clock.advance(float(seconds))
        except (ValueError, OverflowError) as error:
            raise ApiError.invalid(f"seconds: {error}") from None
        return _describe(clock)

    @api.post("/v1/emulator/clock:set", openapi_extra=JSON_BODY)
    async def set_clock(request: Request) -> dict[str, Any]:
        body = await json_body(request, _MAX_BODY)
        text = body.get("time")
        try:
            when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
            clock.set(when)
        except (ValueError, OverflowError) as error:
            raise ApiError.invalid(f"time: an RFC 3339 timestamp with offset: {error}") from error
        return _describe(clock)

    return api
