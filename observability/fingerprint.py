"""Exception fingerprints: one stable id per bug, however many runs, retries and DAGs hit it.

Two failures share a fingerprint when they have the same exception type, the same message once
the parts that vary between runs are normalised (numbers, hex and UUID ids, timestamps, file
paths, quoted values, URLs' hosts stay), and the same chain of functions in the traceback
(file names and line numbers left out, since a deploy moves lines without changing the bug).
"""

from __future__ import annotations

import hashlib
import re
import traceback
from types import TracebackType

_NORMALISERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<uuid>",
    ),
    (
        re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "<ts>",
    ),
    (re.compile(r"(?:[A-Za-z]:)?(?:[/\\][\w.@~+-]+){2,}[/\\]?"), "<path>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<id>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\""), "<str>"),
)

_MAX_MESSAGE_CHARS = 2_000
"""Only the head of a message counts: a 1 MB message must not cost 1 MB of regex work."""


def normalise_message(message: str) -> str:
    """The message with run-specific parts replaced by placeholders."""
    text = message[:_MAX_MESSAGE_CHARS]
    for pattern, placeholder in _NORMALISERS:
        text = pattern.sub(placeholder, text)
    return " ".join(text.split()).lower()


def fingerprint(exc_type: str, message: str, frames: list[str] | tuple[str, ...] = ()) -> str:
    """16 hex chars identifying the bug behind an exception."""
    digest = hashlib.sha256()
    digest.update(exc_type.encode())
    digest.update(b"\0")
    digest.update(normalise_message(message).encode())
    for frame in frames:
        digest.update(b"\0")
        digest.update(frame.encode())
    return digest.hexdigest()[:16]


def frame_names(tb: TracebackType | None, limit: int = 20) -> list[str]:
    """``module.function`` of the innermost frames: what identifies where an error arose."""
    names = []
    for frame, _line in traceback.walk_tb(tb):
        module = frame.f_globals.get("__name__", "?")
        names.append(f"{module}.{frame.f_code.co_name}")
    return names[-limit:]


def exception_fingerprint(exc: BaseException) -> str:
    """The fingerprint of a live exception, from its type, message and traceback frames."""
    exc_type = type(exc)
    qualified = f"{exc_type.__module__}.{exc_type.__qualname__}"
    return fingerprint(qualified, str(exc), frame_names(exc.__traceback__))
