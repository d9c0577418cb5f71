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
from typing import Any

from fastapi import APIRouter, Request

from observability.emulator.errors import ApiError
from observability.emulator.rest_common import json_body

_MAX_BODY = 64 * 1024


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
        """Move the clock forward (never backward) by ``seconds``; returns the new now."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset_ns += int(seconds * 1_000_000_000)
        return self.now()

    def set(self, when: datetime) -> datetime:
        """Make ``now()`` return ``when`` from this instant on (then it runs in real time)."""
        if when.tzinfo is None:
            raise ValueError("the time must be timezone-aware")
        target_ns = int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000
        with self._lock:
            self._offset_ns = target_ns - time.time_ns()
        return self.now()

    @property
    def offset_seconds(self) -> float:
        """How far this clock is ahead of real time."""
        return self._offset_ns / 1e9


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

    @api.post("/v1/emulator/clock:advance")
    async def advance(request: Request) -> dict[str, Any]:
        body = await json_body(request, _MAX_BODY)
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ApiError.invalid("seconds: a non-negative number is required")
        clock.advance(float(seconds))
        return _describe(clock)

    @api.post("/v1/emulator/clock:set")
    async def set_clock(request: Request) -> dict[str, Any]:
        body = await json_body(request, _MAX_BODY)
        text = body.get("time")
        try:
            when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
            clock.set(when)
        except ValueError as error:
            raise ApiError.invalid(f"time: an RFC 3339 timestamp with offset: {error}") from error
        return _describe(clock)

    return api
