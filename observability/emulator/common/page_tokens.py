"""Page tokens: opaque to clients, and checked field by field when they come back.

Every list method of the emulated APIs continues from a position it encoded in the token
(a row's timestamp and id, an offset, a name) and, where the API requires the same query on
every page, a digest of that query. A client can send back anything in its place, so a token
is decoded defensively: base64 of a short JSON array whose members must have the types and
ranges this server put there. Anything else (a dict, a list, 10**30 where SQLite needs a
64-bit integer, JSON nested a thousand deep) is refused with INVALID_ARGUMENT, as Google
refuses a page token it did not issue, instead of failing later in SQL or in Python.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

from observability.emulator.common.errors import ApiError

MAX_TOKEN_CHARS: Final = 4096
"""Longer than any token this server issues (a digest, a few ids, a name <= 512 chars)."""

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def encode(*parts: str | int) -> str:
    """A token holding ``parts`` (strings and 64-bit integers), URL-safe."""
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, shape: tuple[type, ...], field: str = "pageToken") -> list[Any]:
    """The parts of ``token``, each of the type in ``shape`` (``str`` or ``int``).

    Raises INVALID_ARGUMENT naming ``field`` for anything this server did not issue.
    Integers are also checked to fit SQLite's 64-bit INTEGER.
    """
    refusal = ApiError.invalid(f"{field}: not a page token this server issued for this list")
    if len(token) > MAX_TOKEN_CHARS:
        raise refusal
    try:  # UnicodeError and JSONDecodeError are ValueErrors
        raw = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise refusal from None
    if not isinstance(parts, list) or len(parts) != len(shape):
        raise refusal
    for part, kind in zip(parts, shape, strict=True):
        if type(part) is not kind:  # exact: True is not an int here
            raise refusal
        if isinstance(part, int) and not _INT64_MIN <= part <= _INT64_MAX:
            raise refusal
    return parts
