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
from functools import cache

REDACTED = "***"

_SECRET_KEYS = (
    r"password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|id_token"
    r"|api_key|apikey|api-key|private_key|auth|authorization|credentials?|session_key|sig"
    r"|signature"
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host -> scheme://user:***@host (and a bare token user part).
    (
        re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/\s:@]+):(?P<pw>[^/\s@]+)@"),
        r"\g<scheme>\g<user>:" + REDACTED + "@",
    ),
    (
        re.compile(r"(?i)\b(?P<kind>bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}"),
        r"\g<kind> " + REDACTED,
    ),
    # key=value, key: value, "key": "value" (JSON), key='value'.
    (
        re.compile(
            r"(?i)(?P<key>[\"']?\b(?:[a-z0-9_-]*[_-])?(?:" + _SECRET_KEYS + r")\b[\"']?\s*[=:]\s*)"
            r"(?P<quote>[\"'])?(?P<value>(?(quote)[^\"'\n]*|[^\s&,;\"'}\]]+))"
        ),
        r"\g<key>\g<quote>" + REDACTED,
    ),
    # Well-known credential shapes that carry no key name.
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bya29\.[0-9A-Za-z_-]{20,}"), REDACTED),
    (re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}"), REDACTED),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        REDACTED,
    ),
)


_MAYBE_SECRET = re.compile(
    r"(?i)@|bearer|basic|token|pass|pwd|secret|key|auth|cred|sig|session|akia|ya29\\.|xox"
)
"""A cheap first look: text without any of these cannot match a pattern and is skipped."""


def redact_patterns(text: str) -> str:
    """Mask credentials recognisable by shape: URL passwords, bearer tokens, key=value pairs."""
    if not _MAYBE_SECRET.search(text):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
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
