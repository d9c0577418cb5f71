"""Google's wording for a refused field, and the user-label rules every Monitoring resource
shares (alert policies, notification channels).

Every rule raises ``ApiError`` INVALID_ARGUMENT whose message names the field the way Google
does (``Field alert_policy.user_labels['Team'] had an invalid value of "Team": ...``), snake_case
paths as the gRPC API spells them. The rules of one resource live in its package (alert
policies: ``alert_policies/validation.py``; channels: ``channels/model.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from observability.emulator.common.errors import ApiError

MAX_USER_LABELS: Final = 64
MAX_LABEL_CHARS: Final = 63
MAX_LABEL_BYTES: Final = 128


def _quote(value: object) -> str:
    text = str(value)
    if len(text) > 200:
        text = text[:200] + "..."
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def invalid(field: str, value: object, reason: str) -> ApiError:
    """Google's wording for a field that has a value it refuses."""
    return ApiError.invalid(f"Field {field} had an invalid value of {_quote(value)}: {reason}")


def required(field: str, reason: str = "") -> ApiError:
    """Google's wording for a field that must be set."""
    return ApiError.invalid(f"Field {field} is required{': ' + reason if reason else ''}.")


def check_length(field: str, text: str, limit: int, wording: str = "must not exceed") -> None:
    """Refuse ``text`` longer than ``limit`` characters; ``wording`` is how Google's message
    for that field puts the limit (``is limited to``, ``may not exceed``, ...)."""
    if len(text) > limit:
        raise invalid(field, text, f"{wording} {limit} characters")


def check_user_labels(labels: Mapping[str, str], field: str) -> None:
    """User labels: <= 64; keys and values <= 63 characters and 128 bytes, lower-case
    letters (any script), digits, ``_`` and ``-``; keys start with a lower-case letter."""
    if len(labels) > MAX_USER_LABELS:
        raise invalid(field, f"{len(labels)} labels", f"at most {MAX_USER_LABELS} are allowed")
    for key, value in labels.items():
        for what, text in (("key", key), ("value", value)):
            if len(text) > MAX_LABEL_CHARS or len(text.encode()) > MAX_LABEL_BYTES:
                raise invalid(
                    f"{field}[{key!r}]",
                    text,
                    f"a label {what} is limited to {MAX_LABEL_CHARS} characters "
                    f"and {MAX_LABEL_BYTES} bytes",
                )
            bad = [c for c in text if not (c.islower() or c.isdigit() or c in "_-")]
            if bad:
                raise invalid(
                    f"{field}[{key!r}]",
                    text,
                    f"a label {what} may only contain lower-case letters, digits, '_' and '-' "
                    f"(found {bad[0]!r})",
                )
        if not key or not key[0].islower():
            raise invalid(f"{field}[{key!r}]", key, "a label key must begin with a letter")
