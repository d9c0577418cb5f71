"""Turning a live exception into the schema's ``exception`` block.

Callbacks hand the exception object itself to the writer thread, which calls this: formatting a
traceback reads source files and normalising a message for the fingerprint runs regexes, both
too slow for a callback that must return in microseconds. The exception object is immutable
for our purposes, so formatting it a few milliseconds later gives the same text.
"""

from __future__ import annotations

import traceback
from typing import Any

from observability.fingerprint import fingerprint, frame_names

_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def format_traceback(error: BaseException) -> str:
    """The traceback as Python prints it, chained exceptions included, minus the ``^^^^``
    markers: Python 3.11 compiles each source line to place them, which costs a failure
    event a tenth of a millisecond per frame and adds nothing a reader of logs needs."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        text = "".join(
            f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n'
            + (f"    {frame.line.strip()}\n" if frame.line else "")
            for frame in frames
        )
        header = "Traceback (most recent call last):\n" if frames else ""
        only = "".join(traceback.format_exception_only(type(current), current))
        parts.append(header + text + only + link)
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    return "".join(reversed(parts))


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception as exc:  # noqa: BLE001 - an exception whose __str__ fails still counts
        return f"<unprintable {type(value).__name__}: {type(exc).__name__}>"


def exception_info(error: Any) -> dict[str, Any] | None:
    """The ``exception`` fields for an exception, or for the plain string Airflow sometimes
    passes instead (a task killed from outside gets a message, not an exception)."""
    if error is None:
        return None
    if isinstance(error, BaseException):
        exc_type = type(error)
        qualified = f"{exc_type.__module__}.{exc_type.__qualname__}".removeprefix("builtins.")
        message = _safe_str(error)
        return {
            "type": qualified,
            "message": message,
            "fingerprint": fingerprint(qualified, message, frame_names(error.__traceback__)),
            "traceback": format_traceback(error),
        }
    if isinstance(error, dict):
        return error
    message = _safe_str(error)
    return {"type": "str", "message": message, "fingerprint": fingerprint("str", message)}
