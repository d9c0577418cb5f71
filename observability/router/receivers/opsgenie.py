"""Opsgenie Alerts API v2, as Alertmanager uses it.

Firing: ``POST {api_url}v2/alerts`` creates an alert (Opsgenie merges a create whose ``alias``
is already open into it, counting it); resolved: ``POST {api_url}v2/alerts/{alias}/close
?identifierType=alias``. Every request carries ``Authorization: GenieKey <api_key>``; Opsgenie
answers 202 and processes asynchronously.

The alias says what one Opsgenie alert stands for (``alias_by``):

* ``group`` (default, Alertmanager's): the SHA-256 of the group key, closed when the whole
  group is resolved;
* ``incident``: one Opsgenie alert per alert, aliased by the Cloud Monitoring incident id (the
  fingerprint for other alerts), closed when that incident closes.

``priority`` defaults to P1..P5 from the ``severity`` label (a rendered value that is not P1..P5
is left out, so Opsgenie's default applies instead of the alert being refused); ``tags`` and
``actions`` are comma-separated templates; ``responders`` name teams, users, escalations or
schedules (``type: teams`` with comma-separated names, one team each).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from observability.router.notice import Notice
from observability.router.receivers.base import Integration, read_secret, request_json
from observability.router.receivers.http_config import HttpConfig, http_auth
from observability.router.templates import Templates

DEFAULT_API_URL = "https://api.opsgenie.com/"
MESSAGE_LIMIT = 130  # characters, Opsgenie's limit (Alertmanager truncates the same way)
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
_PARTIAL_ENTITY = re.compile(r"&[#A-Za-z0-9]*\Z")
"""An HTML entity cut by the message's length limit (dropped, not shown half)."""
_RESPONDER_TYPE = re.compile(r"(team|teams|user|escalation|schedule)\Z")


class OpsgenieResponder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = ""
    name: str = ""
    username: str = ""
    type: str = ""

    @model_validator(mode="after")
    def _valid(self) -> OpsgenieResponder:
        if not (self.id or self.name or self.username):
            raise ValueError("a responder needs at least one of id, username or name")
        if "{{" not in self.type and "{%" not in self.type:
            self.type = self.type.lower()
            if not _RESPONDER_TYPE.match(self.type):
                raise ValueError(
                    f"responder type {self.type!r} is not one of team, teams, user, escalation,"
                    " schedule"
                )
        return self


class OpsgenieConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    TEMPLATE_FIELDS: ClassVar[tuple[str, ...]] = (
        "message",
        "description",
        "source",
        "entity",
        "actions",
        "tags",
        "note",
        "priority",
    )

    send_resolved: bool = True
    http_config: HttpConfig | None = None
    api_key: SecretStr | None = None
    api_key_file: str | None = None
    api_url: str | None = None
    message: str = "{% include 'opsgenie.message' %}"
    description: str = "{% include 'opsgenie.description' %}"
    source: str = "{% include 'opsgenie.source' %}"
    details: dict[str, str] = Field(default_factory=dict)
    entity: str = ""
    responders: list[OpsgenieResponder] = Field(default_factory=list)
    actions: str = ""
    tags: str = ""
    note: str = ""
    priority: str = "{% include 'opsgenie.priority' %}"
    update_alerts: bool = False
    alias_by: Literal["group", "incident"] = "group"


def _split(text: str) -> list[str]:
    """Alertmanager's ``safeSplit``: comma-separated, empty items dropped."""
    return [item for item in text.strip().split(",") if item]


class Opsgenie(Integration[OpsgenieConfig]):
    kind = "opsgenie"

    def __init__(
        self,
        receiver: str,
        index: int,
        config: OpsgenieConfig,
        templates: Templates,
        global_key: SecretStr | None,
        global_url: str | None,
        base_dir: Path,
    ) -> None:
        super().__init__(receiver, index, config, templates)
        key = read_secret(config.api_key, config.api_key_file, global_key, "api_key", base_dir)
        url = config.api_url or global_url or DEFAULT_API_URL
        self.api_url = url if url.endswith("/") else url + "/"
        self.headers, self.auth = http_auth(config.http_config, base_dir)
        self.headers["Authorization"] = f"GenieKey {key}"

    def requests(self, notice: Notice) -> list[tuple[str, str, dict[str, Any]]]:
        """``(method, url, body)`` of every request ``notice`` needs, in order."""
        context = notice.template_context()
        if self.config.alias_by == "group":
            alias = hashlib.sha256(notice.group_key.encode()).hexdigest()
            return self._requests(alias, notice.status, context, None)
        return [
            request
            for alert in context["alerts"]
            for request in self._requests(
                alert["labels"].get("incident_id") or alert["fingerprint"],
                alert["status"],
                context,
                alert,
            )
        ]

    def _requests(
        self, alias: str, status: str, context: dict[str, Any], alert: dict[str, Any] | None
    ) -> list[tuple[str, str, dict[str, Any]]]:
        scope = {**context, "alert": alert}
        source = self.render(self.config.source, scope).strip()
        by_alias = f"{self.api_url}v2/alerts/{alias}"
        if status == "resolved":
            return [("POST", f"{by_alias}/close?identifierType=alias", {"source": source})]
        body = self._create(alias, scope, source, alert)
        requests = [("POST", f"{self.api_url}v2/alerts", body)]
        if self.config.update_alerts:
            requests.append(
                ("PUT", f"{by_alias}/message?identifierType=alias", {"message": body["message"]})
            )
            requests.append(
                (
                    "PUT",
                    f"{by_alias}/description?identifierType=alias",
                    {"description": body.get("description", "")},
                )
            )
        return requests

    def _create(
        self, alias: str, scope: dict[str, Any], source: str, alert: dict[str, Any] | None
    ) -> dict[str, Any]:
        labels = alert["labels"] if alert else scope["common_labels"]
        # Opsgenie formats HTML in the message: values are escaped for it.
        message = self.render(self.config.message, scope, "html").strip() or "alert"
        if len(message) > MESSAGE_LIMIT:
            message = _PARTIAL_ENTITY.sub("", message[: MESSAGE_LIMIT - 1]) + "…"
        details = dict(labels)
        for name, source_text in self.config.details.items():
            details[name] = self.render(source_text, scope)
        body: dict[str, Any] = {
            "alias": alias,
            "message": message,
            "details": details,
            "source": source,
        }
        optional: dict[str, Any] = {
            "description": self.render(self.config.description, scope).strip(),
            "responders": self._responders(scope),
            "tags": _split(self.render(self.config.tags, scope)),
            "note": self.render(self.config.note, scope).strip(),
            "entity": self.render(self.config.entity, scope).strip(),
            "actions": _split(self.render(self.config.actions, scope)),
        }
        priority = self.render(self.config.priority, scope).strip()
        if priority in PRIORITIES:
            optional["priority"] = priority
        body.update({name: value for name, value in optional.items() if value})
        return body

    def _responders(self, scope: dict[str, Any]) -> list[dict[str, str]]:
        """Rendered responders; empty ones dropped, ``teams`` split into one team each."""
        found: list[dict[str, str]] = []
        for responder in self.config.responders:
            rendered = {
                field: self.render(getattr(responder, field), scope).strip()
                for field in ("id", "name", "username", "type")
            }
            if not any(rendered.values()):
                continue
            if rendered["type"] == "teams":
                found.extend({"name": team, "type": "team"} for team in _split(rendered["name"]))
                continue
            found.append({field: value for field, value in rendered.items() if value})
        return found

    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        for method, url, body in self.requests(notice):
            await request_json(
                client, url, body, "opsgenie", self.headers, self.auth, method=method
            )
