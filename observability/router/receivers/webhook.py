"""Generic webhooks with Alertmanager's v4 payload, so existing Alertmanager consumers work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from observability.router.notice import Notice
from observability.router.receivers.base import Integration, post_json, read_secret
from observability.router.templates import Templates


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


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    send_resolved: bool = True
    url: SecretStr | None = None
    url_file: str | None = None
    max_alerts: int = Field(default=0, ge=0)
    http_config: HttpConfig | None = None


def v4_payload(notice: Notice, max_alerts: int = 0) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4); ``max_alerts`` > 0 truncates the alert list."""
    alerts = notice.alerts
    truncated = notice.truncated_alerts
    if max_alerts and len(alerts) > max_alerts:
        truncated += len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    return {
        "version": "4",
        "groupKey": notice.group_key,
        "truncatedAlerts": truncated,
        "status": notice.status,
        "receiver": notice.receiver,
        "groupLabels": notice.group_labels,
        "commonLabels": notice.common_labels,
        "commonAnnotations": notice.common_annotations,
        "externalURL": notice.external_url,
        "alerts": alerts,
    }


class Webhook(Integration):
    kind = "webhook"

    def __init__(
        self,
        receiver: str,
        index: int,
        config: WebhookConfig,
        templates: Templates,
        base_dir: Path,
    ) -> None:
        super().__init__(receiver, index, config.send_resolved, templates)
        self.config = config
        self.url = read_secret(config.url, config.url_file, None, "url", base_dir)
        self.headers: dict[str, str] = {}
        self.auth: httpx.Auth | None = None
        http = config.http_config
        if http and http.basic_auth:
            password = read_secret(
                http.basic_auth.password,
                http.basic_auth.password_file,
                None,
                "http_config.basic_auth.password",
                base_dir,
            )
            self.auth = httpx.BasicAuth(http.basic_auth.username, password)
        if http and http.authorization:
            token = read_secret(
                http.authorization.credentials,
                http.authorization.credentials_file,
                None,
                "http_config.authorization.credentials",
                base_dir,
            )
            self.headers["Authorization"] = f"{http.authorization.type} {token}"

    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        body = v4_payload(notice, self.config.max_alerts)
        await post_json(client, self.url, body, "webhook", headers=self.headers, auth=self.auth)
