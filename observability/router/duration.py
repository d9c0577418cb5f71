"""Durations written the Prometheus way (``30s``, ``5m``, ``1h30m``, ``1d``), as in Alertmanager."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

_UNITS = (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60))
_PATTERN = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_FACTORS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)

MAX_DURATION_S = 100 * 365 * 86400.0
"""Longer has no use, and a date moved by it must stay inside the calendar (year 9999)."""


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration; ``0`` is allowed, an empty or unitless number is not."""
    if text == "0":
        return 0.0
    match = _PATTERN.match(text)
    if not text or match is None:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 30s, 5m, 1h30m, 1d)")
    return float(
        sum(
            int(part) * factor
            for part, factor in zip(match.groups(), _FACTORS, strict=True)
            if part
        )
    )


def format_duration(seconds: float) -> str:
    """The shortest Prometheus spelling of ``seconds`` (whole seconds; ms when below one)."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    rest = int(seconds)
    parts = []
    for unit, size in _UNITS:
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    if rest:
        parts.append(f"{rest}s")
    return "".join(parts)


def _coerce(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value.strip())
    if isinstance(value, bool):
        raise ValueError("not a duration: a boolean")
    return value


def _bounded(seconds: float) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f"not a duration: {seconds} (expected e.g. 30s, 5m, 1h30m, 1d)")
    if abs(seconds) > MAX_DURATION_S:
        raise ValueError(f"{seconds:g} s is longer than 100 years")
    return seconds


Duration = Annotated[
    float, BeforeValidator(_coerce), AfterValidator(_bounded), PlainSerializer(format_duration)
]
"""A pydantic field type: accepts ``"5m"`` (or a number of seconds), holds seconds."""
