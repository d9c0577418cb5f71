"""Generic webhooks with Alertmanager's v4 payload, so existing Alertmanager consumers work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from observability.router.notice import Notice
from observability.router.receivers.base import Integration, read_secret, request_json
from observability.router.receivers.http_config import HttpConfig, http_auth
from observability.router.templates import Templates


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


class Webhook(Integration[WebhookConfig]):
    kind = "webhook"

    def __init__(
        self,
        receiver: str,
        index: int,
        config: WebhookConfig,
        templates: Templates,
        base_dir: Path,
    ) -> None:
        super().__init__(receiver, index, config, templates)
        self.url = read_secret(config.url, config.url_file, None, "url", base_dir)
        self.headers, self.auth = http_auth(config.http_config, base_dir)

    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        body = v4_payload(notice, self.config.max_alerts)
        await request_json(client, self.url, body, "webhook", headers=self.headers, auth=self.auth)
