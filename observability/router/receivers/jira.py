"""Jira (Cloud REST v2/v3, or Data Center): one issue per alert group, as Alertmanager does it.

Each notice first searches the project for the group's issue by its label ``ALERT{<sha256 of
the group key>}`` (JQL, ``POST …/search/jql`` on Cloud, ``…/search`` on Data Center): issues
resolved as ``wont_fix_resolution`` are ignored, and with ``reopen_transition`` and
``reopen_duration`` set, issues closed within that duration count too. Then:

* no issue and the group fires: ``POST issue`` creates one (summary, description, labels,
  priority, issue type, custom ``fields``);
* an issue: ``PUT issue/{key}`` updates it (``summary``/``description`` with
  ``enable_update: false`` are kept), and while the group fires a comment records the repeat
  (``comment``, this router's addition; empty to turn off);
* firing on a done issue applies ``reopen_transition``; resolved on an open one applies
  ``resolve_transition`` (``GET``/``POST issue/{key}/transitions``, by transition name).

With an ``api_url`` ending in ``/3`` (API v3) Jira wants Atlassian Document Format: a rendered
description that is JSON is sent as it is, plain text is wrapped in a paragraph document.
Authentication is ``http_config`` (Jira Cloud: ``basic_auth`` with your e-mail and an API token).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from observability.router.duration import Duration
from observability.router.matcher.gostring import quote
from observability.router.notice import Notice
from observability.router.receivers.base import (
    DeliveryError,
    FailureReason,
    Integration,
    IntegrationConfigError,
    request_json,
)
from observability.router.receivers.http_config import HttpConfig, http_auth
from observability.router.templates import Markup, Templates

SUMMARY_LIMIT = 255
DESCRIPTION_LIMIT = 32_767


class JiraField(BaseModel):
    """A templated issue field: a string, or ``{template, enable_update}``."""

    model_config = ConfigDict(extra="forbid")

    template: str = ""
    enable_update: bool = True


def _field(value: Any) -> Any:
    return {"template": value} if isinstance(value, str) else value


class JiraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    TEMPLATE_FIELDS: ClassVar[tuple[str, ...]] = ("project", "issue_type", "priority", "comment")

    send_resolved: bool = True
    http_config: HttpConfig | None = None
    api_url: str | None = None
    api_type: Literal["auto", "cloud", "datacenter"] = "auto"
    project: str = Field(min_length=1)
    issue_type: str = Field(min_length=1)
    summary: JiraField = JiraField(template="{% include 'jira.summary' %}")
    description: JiraField = JiraField(template="{% include 'jira.description' %}")
    labels: list[str] = Field(default_factory=list)
    priority: str = "{% include 'jira.priority' %}"
    reopen_transition: str = ""
    resolve_transition: str = ""
    wont_fix_resolution: str = ""
    reopen_duration: Duration = 0.0
    fields: dict[str, Any] = Field(default_factory=dict)
    comment: str = "{% include 'jira.comment' %}"

    @field_validator("summary", "description", mode="before")
    @classmethod
    def _string_or_object(cls, value: Any) -> Any:
        return _field(value)


def _adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document (one paragraph per line)."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]}
        for line in text.splitlines()
        if line.strip()
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


class Jira(Integration[JiraConfig]):
    kind = "jira"

    def __init__(
        self,
        receiver: str,
        index: int,
        config: JiraConfig,
        templates: Templates,
        global_url: str | None,
        base_dir: Path,
    ) -> None:
        super().__init__(receiver, index, config, templates)
        url = config.api_url or global_url
        if not url:
            raise IntegrationConfigError("api_url", "no global Jira Cloud URL set (jira_api_url)")
        self.api_url = url.rstrip("/")
        for name in ("summary", "description"):
            try:
                templates.check(getattr(config, name).template, name=name)
            except ValueError as exc:
                raise IntegrationConfigError(name, str(exc)) from None
        self.headers, self.auth = http_auth(config.http_config, base_dir)
        self.headers["Accept-Language"] = "en"
        self.v3 = self.api_url.endswith("/3")

    @property
    def search_url(self) -> str:
        host = httpx.URL(self.api_url).host
        cloud = self.config.api_type == "cloud" or (
            self.config.api_type == "auto" and host.endswith("atlassian.net")
        )
        if cloud:
            return f"{self.api_url}/search/jql".replace("/rest/api/2/", "/rest/api/3/", 1)
        return f"{self.api_url}/search"

    def jql(self, label: str, project: str, firing: bool) -> str:
        """Alertmanager's query for the group's issue (see the module's docstring)."""
        parts = []
        if self.config.wont_fix_resolution:
            resolution = quote(self.config.wont_fix_resolution)
            parts.append(f"(resolution is EMPTY or resolution != {resolution})")
        minutes = int(self.config.reopen_duration // 60)
        if firing and self.config.reopen_transition and minutes > 0:
            parts.append(f"(resolutiondate is EMPTY OR resolutiondate >= -{minutes}m)")
        else:
            parts.append("statusCategory != Done")
        parts.append(f"project={quote(project)} and labels={quote(label)}")
        return " and ".join(parts) + " order by status ASC,resolutiondate DESC"

    def issue_fields(self, context: dict[str, Any], label: str, existing: bool) -> dict[str, Any]:
        config = self.config
        summary = self.render(config.summary.template, context).strip()
        fields: dict[str, Any] = {
            "project": {"key": self.render(config.project, context).strip()},
            "issuetype": {"name": self.render(config.issue_type, context).strip()},
            "labels": sorted([*(self.render(item, context) for item in config.labels), label]),
        }
        if not existing or config.summary.enable_update:
            fields["summary"] = summary[:SUMMARY_LIMIT]
        description = self.render(config.description.template, context, self.markup_of_text)
        description = description.strip()
        if description and (not existing or config.description.enable_update):
            description = description[:DESCRIPTION_LIMIT]
            fields["description"] = self._document(description) if self.v3 else description
        priority = self.render(config.priority, context).strip()
        if priority:
            fields["priority"] = {"name": priority}
        fields.update(self._rendered(config.fields, context))
        return fields

    @property
    def markup_of_text(self) -> Markup:
        """How descriptions and comments are marked up: Jira's wiki markup (API v2 and Data
        Center, so values are escaped for it), or plain text made into an ADF document (v3)."""
        return "text" if self.v3 else "jira"

    def _document(self, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            return _adf(text)

    def _rendered(self, value: Any, context: dict[str, Any]) -> Any:
        """Custom ``fields`` with every string in them rendered (Alertmanager's deep copy)."""
        if isinstance(value, str):
            return self.render(value, context)
        if isinstance(value, dict):
            return {key: self._rendered(item, context) for key, item in value.items()}
        if isinstance(value, list):
            return [self._rendered(item, context) for item in value]
        return value

    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        context = notice.template_context()
        firing = notice.status == "firing"
        label = f"ALERT{{{hashlib.sha256(notice.group_key.encode()).hexdigest()}}}"
        project = self.render(self.config.project, context).strip()
        issue = await self._search(client, self.jql(label, project, firing))
        if issue is None and not firing:
            return  # nothing was opened for this group: nothing to resolve
        fields = self.issue_fields(context, label, existing=issue is not None)
        if issue is None:
            await self._call(client, "POST", "issue", {"fields": fields})
            return
        key = issue["key"]
        await self._call(client, "PUT", f"issue/{key}", {"fields": fields})
        comment = self.render(self.config.comment, context, self.markup_of_text) if firing else ""
        comment = comment.strip()
        if comment:
            body = self._document(comment) if self.v3 else comment
            await self._call(client, "POST", f"issue/{key}/comment", {"body": body})
        await self._transition(client, issue, firing)

    async def _search(self, client: httpx.AsyncClient, jql: str) -> dict[str, Any] | None:
        body = {"jql": jql, "maxResults": 2, "fields": ["status"]}
        response = await request_json(
            client, self.search_url, body, "jira", self.headers, self.auth
        )
        issues = _json(response).get("issues") or []
        return issues[0] if issues and isinstance(issues[0], dict) and "key" in issues[0] else None

    async def _transition(
        self, client: httpx.AsyncClient, issue: dict[str, Any], firing: bool
    ) -> None:
        status = (issue.get("fields") or {}).get("status") or {}
        done = (status.get("statusCategory") or {}).get("key") == "done"
        name = self.config.reopen_transition if firing else self.config.resolve_transition
        if not name or done != firing:
            return
        key = issue["key"]
        answer = _json(await self._call(client, "GET", f"issue/{key}/transitions", None))
        for transition in answer.get("transitions") or []:
            if transition.get("name") == name:
                body = {"transition": {"id": transition["id"]}}
                await self._call(client, "POST", f"issue/{key}/transitions", body)
                return
        message = f"jira: issue {key} has no transition named {name!r}"
        raise DeliveryError(FailureReason.CLIENT, message, retryable=False)

    async def _call(
        self, client: httpx.AsyncClient, method: str, path: str, body: Any
    ) -> httpx.Response:
        url = f"{self.api_url}/{path}"
        return await request_json(client, url, body, "jira", self.headers, self.auth, method=method)


def _json(response: httpx.Response) -> dict[str, Any]:
    """A JSON object answer; anything else (a proxy's HTML page) is retried."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        message = f"jira answered HTTP {response.status_code} without a JSON object"
        raise DeliveryError(FailureReason.SERVER, message, retryable=True)
    return answer
