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
            "traceback": "".join(
                traceback.format_exception(exc_type, error, error.__traceback__)
            ),
        }
    if isinstance(error, dict):
        return error
    message = _safe_str(error)
    return {"type": "str", "message": message, "fingerprint": fingerprint("str", message)}
