"""Secret redaction: nothing that looks like a credential leaves the task process.

Two layers, because each catches what the other misses: Airflow's own secrets masker knows
the actual values of connections and variables the task used (it is consulted when Airflow is
loaded in the process), and the patterns below catch credentials Airflow never saw, such as a
token inside a third-party error message or a URL with a password in it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

REDACTED = "***"

_SECRET_KEYS = (
    r"password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|id_token"
    r"|api_key|apikey|api-key|private_key|auth|authorization|credentials?|session_key|sig"
    r"|signature"
)


@dataclass(frozen=True)
class _Rule:
    """A credential shape. ``pattern`` is written for lower-cased text (Python's ``re`` is
    fifteen times slower case-insensitively); ``group`` is the part replaced by ``***``."""

    pattern: re.Pattern[str]
    triggers: tuple[str, ...]
    """Substrings one of which every match contains: a rule whose triggers are absent is
    skipped, which on a megabyte of text saves tens of milliseconds a rule."""
    group: str | int = 0


_RULES: tuple[_Rule, ...] = (
    # scheme://user:password@host -> scheme://user:***@host
    _Rule(re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<pw>[^/\s@]+)@"), ("://",), "pw"),
    _Rule(
        re.compile(r"\b(?:bearer|basic|token)\s+(?P<secret>[a-z0-9._~+/=-]{8,})"),
        ("bearer", "basic", "token"),
        "secret",
    ),
    # key=value, key: value, "key": "value" (JSON), key='value'.
    _Rule(
        re.compile(
            r"(?<![a-z0-9_-])(?:[a-z0-9]+[_-]){0,4}(?:" + _SECRET_KEYS + r")(?![a-z0-9_-])"
            r"[\"']?\s*[=:]\s*(?:[\"'](?P<quoted>[^\"'\n]*)|(?P<bare>[^\s&,;\"'}\]]+))"
        ),
        ("pass", "pwd", "secret", "token", "key", "auth", "cred", "sig"),
        "quoted",
    ),
    # Well-known credential shapes that carry no key name.
    _Rule(re.compile(r"\bakia[0-9a-z]{16}\b"), ("akia",)),
    _Rule(re.compile(r"\bya29\.[0-9a-z_-]{20,}"), ("ya29.",)),
    _Rule(re.compile(r"\bxox[abposr]-[0-9a-z-]{10,}"), ("xox",)),
    _Rule(
        re.compile(r"-----begin [a-z ]*private key-----.*?-----end [a-z ]*private key-----", re.S),
        ("private key-----",),
    ),
)

_ANY_TRIGGER = re.compile("|".join(re.escape(t) for rule in _RULES for t in rule.triggers))
"""One search that rules out most strings (ids, states, dates) before any rule runs."""


def _spans(rule: _Rule, lower: str) -> list[tuple[int, int]]:
    found = []
    for match in rule.pattern.finditer(lower):
        start, end = match.span(rule.group)
        if start < 0 and rule.group == "quoted":
            start, end = match.span("bare")
        if start >= 0 and end > start:
            found.append((start, end))
    return found


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(text[last:start])
        pieces.append(REDACTED)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def redact_patterns(text: str) -> str:
    """Mask credentials recognisable by shape: URL passwords, bearer tokens, key=value pairs."""
    lower = text.lower()
    if not _ANY_TRIGGER.search(lower):
        return text
    if len(lower) != len(text):  # a few characters change length when lower-cased
        lower = "".join(char if len(char.lower()) != 1 else char.lower() for char in text)
    for rule in _RULES:
        if not any(trigger in lower for trigger in rule.triggers):
            continue
        spans = _spans(rule, lower)
        if spans:
            text, lower = _masked(text, spans), _masked(lower, spans)
    return text


@cache
def _airflow_masker() -> Callable[[str], object] | None:
    """Airflow's masker, if Airflow is already loaded here. Never imports Airflow itself."""
    if "airflow" not in sys.modules:
        return None
    for module_name in (
        "airflow.sdk.execution_time.secrets_masker",  # 3.x
        "airflow.sdk._shared.secrets_masker",  # 3.x, newer layout
        "airflow.utils.log.secrets_masker",  # 2.x
    ):
        try:
            module = __import__(module_name, fromlist=["redact"])
        except Exception:  # noqa: BLE001 - any import problem just means "not available"
            continue
        redact = getattr(module, "redact", None)
        if callable(redact):
            return redact
    return None


def redact_text(text: str) -> str:
    """Redact one string with Airflow's masker (known secret values) and the patterns."""
    masker = _airflow_masker()
    if masker is not None:
        try:
            masked = masker(text)
            if isinstance(masked, str):
                text = masked
        except Exception:  # noqa: BLE001 - the masker must never cost us the event
            pass
    return redact_patterns(text)


def redact_url(url: str) -> tuple[str, str | None]:
    """Split a called URL into a safe target (no credentials, query or fragment) and host."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return redact_patterns(url.split("?", 1)[0]), None
    if not host:
        return redact_patterns(url.split("?", 1)[0]), None
    netloc = f"{host}:{port}" if port else host
    scheme = f"{parts.scheme}://" if parts.scheme else ""
    return f"{scheme}{netloc}{parts.path}", netloc
