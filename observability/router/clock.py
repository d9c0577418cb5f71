"""Time for the router, injectable so tests move it instead of sleeping.

Every timer of the router (group_wait, group_interval, repeat_interval, silences, retries) is
computed from ``Clock.now()`` in epoch seconds, never from ``time.time()`` directly.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """A source of the current time in seconds since the epoch (UTC)."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock: what a running router uses."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to: deterministic timer tests without sleeping."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` and return the new time."""
        with self._lock:
            self._now += seconds
            return self._now
