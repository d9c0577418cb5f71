"""Which key names hold a secret: ``password=``, ``AWS_SECRET_ACCESS_KEY=``, ``"clientSecret":``.

A key is split into words the way people write them (``snake_case``, ``kebab-case``,
``dotted.names``, ``camelCase``, ``SHOUTING``) and judged by its last word, because that is the
noun: ``accessToken`` and ``PGPASSWORD`` hold secrets, ``token_expiry``, ``password_file`` and
``author`` do not. A key ending in "key" holds a secret when what qualifies it says so
(``api_key``, ``SecretAccessKey``, ``fs.s3a.secret.key``), not ``primary_key`` or ``sort_key``.
"""

from __future__ import annotations

import re

KEYWORDS = ("pass", "pwd", "secret", "token", "cred", "auth", "key", "sig")
"""Lower-case fragments one of which every secret key name contains: where to look."""

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

_SECRET_ENDINGS = (
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "credentials",
    "creds",
    "signature",
    "auth",
)
_SECRET_WORDS = frozenset({"pass", "sig", "authorization"})
_KEY_QUALIFIERS = (
    "api",
    "secret",
    "access",
    "private",
    "session",
    "signing",
    "encryption",
    "crypto",
    "hmac",
    "master",
    "account",
    "client",
    "auth",
    "shared",
    "license",
    "subscription",
    "consumer",
    "app",
    "sas",
    "pass",
)
BARE_KEY_MIN_VALUE = 16
"""``key=`` alone (as in ``?key=AIza...``) is a credential when its value is this long."""


def secret_name(name: str) -> bool | None:
    """Whether a value under ``name`` (in the text's own case) is a credential: ``None`` for a
    bare ``key``, which only its value's length decides (see ``BARE_KEY_MIN_VALUE``).

    Asked before the value is even measured: a value may run to the end of the text, and
    measuring it at every key name of a text like ``akey=akey=...`` took quadratic time."""
    words = [word.lower() for word in _WORDS.findall(name)]
    if not words:
        return False
    last = words[-1]
    if last.endswith(_SECRET_ENDINGS) or last in _SECRET_WORDS:
        return True
    for ending in ("keys", "key"):
        if last.endswith(ending):
            qualifier = "".join(words[:-1]) + last[: -len(ending)]
            return None if not qualifier else qualifier.endswith(_KEY_QUALIFIERS)
    return False
