"""``http_config``: how an integration authenticates to its service, as in Alertmanager.

Webhooks, Opsgenie and Jira accept it: ``basic_auth`` (Jira Cloud: your e-mail and an API token)
or ``authorization`` (``type`` and ``credentials``, e.g. a bearer token); secrets inline or in a
``*_file`` (relative to the configuration file), never both.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from observability.router.receivers.base import IntegrationConfigError, read_secret


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    password: SecretStr | None = None
    password_file: str | None = None


class Authorization(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = "Bearer"
    credentials: SecretStr | None = None
    credentials_file: str | None = None


class HttpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None


def http_auth(http: HttpConfig | None, base_dir: Path) -> tuple[dict[str, str], httpx.Auth | None]:
    """The headers and the httpx auth ``http`` stands for, its secrets read now."""
    headers: dict[str, str] = {}
    auth: httpx.Auth | None = None
    if http is None:
        return headers, auth
    if http.basic_auth and http.authorization:
        message = "at most one of basic_auth & authorization must be configured"
        raise IntegrationConfigError("http_config", message)
    if http.basic_auth:
        password = read_secret(
            http.basic_auth.password,
            http.basic_auth.password_file,
            None,
            "http_config.basic_auth.password",
            base_dir,
        )
        auth = httpx.BasicAuth(http.basic_auth.username, password)
    if http.authorization:
        token = read_secret(
            http.authorization.credentials,
            http.authorization.credentials_file,
            None,
            "http_config.authorization.credentials",
            base_dir,
        )
        headers["Authorization"] = f"{http.authorization.type} {token}"
    return headers, auth
