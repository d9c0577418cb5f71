"""Secret redaction: nothing that looks like a credential leaves the task process.

Two layers, because each catches what the other misses: Airflow's own secrets masker knows
the actual values of connections and variables the task used (it is consulted when Airflow is
loaded in the process), and the patterns (``scanner``) catch credentials Airflow never saw,
such as a token inside a third-party error message or a URL with a password in it.

Imports stay light (``re`` only): this runs in every Airflow task process.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from functools import cache

from observability.redact.scanner import REDACTED, masked, secret_spans
from observability.redact.url import redact_url

__all__ = ["REDACTED", "redact_cut", "redact_patterns", "redact_text", "redact_url"]

_AIRFLOW_MASKERS = (
    "airflow.sdk._shared.secrets_masker",  # 3.2 and later
    "airflow.sdk.execution_time.secrets_masker",  # 3.0, 3.1 (deprecated since)
    "airflow.utils.log.secrets_masker",  # 2.x
)


def redact_patterns(text: str) -> str:
    """Mask credentials recognisable by shape: URL passwords, ``key=value`` pairs whose key
    names a secret, authorization schemes, issuers' token formats and private keys."""
    lower = text.lower()
    if len(lower) != len(text):  # a few characters change length when lower-cased
        lower = "".join(char if len(char.lower()) != 1 else char.lower() for char in text)
    spans = secret_spans(text, lower)
    return masked(text, spans) if spans else text


@cache
def _airflow_masker() -> Callable[[str], object] | None:
    """Airflow's masker, if Airflow is already loaded here. Never imports Airflow itself.

    The newest location first: importing an older one where a newer exists raises
    Airflow's ``DeprecatedImportWarning`` into every task log."""
    if "airflow" not in sys.modules:
        return None
    for module_name in _AIRFLOW_MASKERS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
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
            masked_text = masker(text)
            if isinstance(masked_text, str):
                text = masked_text
        except Exception:  # noqa: BLE001 - the masker must never cost us the event
            pass
    return redact_patterns(text)


_CUT_SCAN = 64 * 1024
"""How much of a text ``redact_cut`` scans: redaction could shorten it by no more than that."""


def redact_cut(text: str, limit: int) -> str:
    """The first ``limit`` characters of ``text``, redacted before they are cut: cut first, a
    secret across the cut would lose the shape its pattern recognises, and half of it leak."""
    return redact_text(text[: max(limit, _CUT_SCAN)])[:limit]
