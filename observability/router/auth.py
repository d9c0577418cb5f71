"""Who may call the router: Monitoring (ingest) and operators (admin), with separate secrets.

Cloud Monitoring cannot send custom headers, so ingest accepts the token in the query string
(``?auth_token=``, the ``webhook_tokenauth`` channel) or HTTP basic auth (``webhook_basicauth``;
Monitoring sends credentials only after a ``401`` with ``WWW-Authenticate: Basic``, so every
refusal carries that challenge). Prometheus-style senders may also use ``Authorization:
Bearer``. Admin APIs take only ``Authorization: Bearer <admin token>``.

Secrets are compared by SHA-256 digest with ``hmac.compare_digest``: constant time, length
included. Because the token travels in URLs, request logs never include query strings and a
log filter masks any secret that still reaches a log record.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

from starlette.requests import Request

from observability.router.settings import RouterSettings

REALM = "composer-obs-router"
INGEST_CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'
"""Every ingest refusal's ``WWW-Authenticate``: Monitoring sends basic auth only after it."""


class AuthError(Exception):
    """The request is not authenticated; ``challenge`` is the WWW-Authenticate value."""

    def __init__(self, message: str, challenge: str) -> None:
        super().__init__(message)
        self.challenge = challenge


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


def _same(given: str, expected_digest: bytes) -> bool:
    return hmac.compare_digest(_digest(given), expected_digest)


class Authenticator:
    def __init__(self, settings: RouterSettings) -> None:
        self.disabled = settings.allow_unauthenticated
        self._token = (
            _digest(settings.ingest_token.get_secret_value()) if settings.ingest_token else None
        )
        self._user = _digest(settings.ingest_username) if settings.ingest_username else None
        self._password = (
            _digest(settings.ingest_password.get_secret_value())
            if settings.ingest_password
            else None
        )
        self._admin = (
            _digest(settings.admin_token.get_secret_value()) if settings.admin_token else None
        )

    def check_ingest(self, query_string: bytes, authorization: str) -> None:
        """Raise AuthError unless the ingest token (query or bearer) or basic auth is right.

        Takes the raw query string and the ``Authorization`` value (``""`` when absent), not
        a Request: the ingest endpoints read them straight from the ASGI scope.
        """
        if self.disabled:
            return
        token = _query_token(query_string)
        scheme, _, credentials = authorization.partition(" ")
        if token is not None:
            if self._token is not None and _same(token, self._token):
                return
            raise AuthError("invalid auth_token", INGEST_CHALLENGE)
        if scheme.lower() == "basic":
            user, password = _basic(credentials)
            if (
                self._user is not None
                and self._password is not None
                and _same(user, self._user) & _same(password, self._password)
            ):
                return
            raise AuthError("invalid basic auth credentials", INGEST_CHALLENGE)
        if scheme.lower() == "bearer":
            if self._token is not None and _same(credentials.strip(), self._token):
                return
            raise AuthError("invalid bearer token", INGEST_CHALLENGE)
        raise AuthError(
            "authentication required: ?auth_token=, basic auth or bearer token", INGEST_CHALLENGE
        )

    def check_admin(self, request: Request) -> None:
        if self.disabled:
            return
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            raise AuthError(
                "admin API: Authorization: Bearer <admin token> required", f'Bearer realm="{REALM}"'
            )
        if self._admin is None or not _same(credentials.strip(), self._admin):
            raise AuthError("admin API: invalid bearer token", f'Bearer realm="{REALM}"')


def _query_token(query_string: bytes) -> str | None:
    """The last ``auth_token`` of the query, decoded as Starlette's ``query_params`` would.

    Parsing only this parameter: building the whole ``QueryParams`` showed in ingest profiles.
    """
    if b"auth_token" not in query_string and b"%" not in query_string:
        return None
    token = None
    for part in query_string.decode("latin-1").split("&"):
        name, _, value = part.partition("=")
        if name == "auth_token" or unquote_plus(name) == "auth_token":
            token = unquote_plus(value)
    return token


def _basic(credentials: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, _, password = decoded.partition(":")
    return user, password


class SecretRedactor(logging.Filter):
    """Masks secrets (and any ``auth_token=`` value) in log records before they are written."""

    _QUERY = re.compile(r"(auth_token=)[^&\s\"']+")

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._QUERY.sub(r"\1***", message)
        for secret in self._secrets:
            cleaned = cleaned.replace(secret, "***")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def settings_secrets(settings: RouterSettings) -> list[str]:
    return [
        secret.get_secret_value()
        for secret in (settings.ingest_token, settings.ingest_password, settings.admin_token)
        if secret is not None
    ]
