"""Waiting on a condition another process brings about, with a deadline: the demo never
sleeps a fixed time, and never waits forever."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T | None], timeout: float, what: str, every: float = 1.0) -> T:
    """Call ``check`` every ``every`` seconds until it returns something truthy, and return
    that; raise ``TimeoutError`` naming ``what`` once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
