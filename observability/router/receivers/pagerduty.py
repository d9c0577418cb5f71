"""PagerDuty Events API v2: ``POST /v2/enqueue``, answered 202.

Two ways to map alerts to pages (``dedup``):

* ``incident`` (default): one event per alert, ``dedup_key`` = the Cloud Monitoring incident
  id (the fingerprint for other alerts). Firing alerts trigger, resolved ones resolve, so
  closing an incident resolves exactly its page. PagerDuty merges repeated triggers of one key.
* ``group``: Alertmanager's behaviour, one page per group (``dedup_key`` = SHA-256 of the group
  key), resolved when the whole group is. Fewer pages during a storm.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from observability.router.notice import Notice
from observability.router.receivers.base import (
    DeliveryError,
    FailureReason,
    Integration,
    Progress,
    Unrecorded,
    read_secret,
    request_json,
)
from observability.router.templates import Templates

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = ("critical", "error", "warning", "info")
SUMMARY_LIMIT = 1024
MAX_LINKS = 8
DEDUP_KEY_LIMIT = 255


class PagerDutyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    TEMPLATE_FIELDS: ClassVar[tuple[str, ...]] = (
        "summary",
        "source",
        "severity",
        "component",
        "group",
        "class_",
        "client_url",
    )

    send_resolved: bool = True
    routing_key: SecretStr | None = None
    routing_key_file: str | None = None
    url: str | None = None
    dedup: Literal["incident", "group"] = "incident"
    summary: str = "{% include 'pagerduty.summary' %}"
    source: str = (
        "{{ (alert.labels if alert else common_labels).environment_name"
        " or (alert.labels if alert else common_labels).project_id or 'composer-observability' }}"
    )
    severity: str = "{{ (alert.labels if alert else common_labels).severity }}"
    component: str = "{{ (alert.labels if alert else common_labels).dag_id }}"
    group: str = "{{ (alert.labels if alert else common_labels).team }}"
    class_: str = Field(
        default="{{ (alert.labels if alert else common_labels).alertname }}", alias="class"
    )
    client: str = "composer-observability"
    client_url: str = "{{ external_url }}"


def bounded_dedup_key(identity: str) -> str:
    """``identity`` as a ``dedup_key``: PagerDuty refuses keys over 255 characters (an
    Alertmanager label ``incident_id`` may be longer), so those are hashed instead."""
    if len(identity) <= DEDUP_KEY_LIMIT:
        return identity
    return hashlib.sha256(identity.encode()).hexdigest()


def severity_of(text: str) -> str:
    """PagerDuty's enum from a label value (Cloud Monitoring's are the same words); else error."""
    value = text.strip().lower()
    return value if value in SEVERITIES else "error"


class PagerDuty(Integration[PagerDutyConfig]):
    kind = "pagerduty"

    def __init__(
        self,
        receiver: str,
        index: int,
        config: PagerDutyConfig,
        templates: Templates,
        global_url: str | None,
        base_dir: Path,
    ) -> None:
        super().__init__(receiver, index, config, templates)
        self.routing_key = read_secret(
            config.routing_key, config.routing_key_file, None, "routing_key", base_dir
        )
        self.url = config.url or global_url or DEFAULT_URL

    def events(self, notice: Notice) -> list[dict[str, Any]]:
        """The Events API bodies for ``notice``, in the order they must be sent."""
        context = notice.template_context()
        if self.config.dedup == "group":
            key = hashlib.sha256(notice.group_key.encode()).hexdigest()
            return [self._event(key, notice.status, context, None)]
        return [
            self._event(
                bounded_dedup_key(alert["labels"].get("incident_id") or alert["fingerprint"]),
                alert["status"],
                context,
                alert,
            )
            for alert in context["alerts"]
        ]

    def _event(
        self, dedup_key: str, status: str, context: dict[str, Any], alert: dict[str, Any] | None
    ) -> dict[str, Any]:
        if status == "resolved":
            return {
                "routing_key": self.routing_key,
                "event_action": "resolve",
                "dedup_key": dedup_key,
            }
        scope = {**context, "alert": alert}
        labels = alert["labels"] if alert else context["common_labels"]
        annotations = alert["annotations"] if alert else context["common_annotations"]
        summary = self.render(self.config.summary, scope).strip() or "alert"
        payload: dict[str, Any] = {
            "summary": summary[:SUMMARY_LIMIT],
            "source": self.render(self.config.source, scope).strip() or "composer-observability",
            "severity": severity_of(self.render(self.config.severity, scope)),
            "custom_details": {
                "labels": labels,
                "annotations": annotations,
                "firing": len(context["firing"]),
            },
        }
        if alert:
            payload["timestamp"] = alert["starts_at"]
        for field, source in (
            ("component", self.config.component),
            ("group", self.config.group),
            ("class", self.config.class_),
        ):
            value = self.render(source, scope).strip()
            if value:
                payload[field] = value
        event: dict[str, Any] = {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": payload,
            "client": self.config.client,
        }
        client_url = self.render(self.config.client_url, scope).strip()
        if client_url:
            event["client_url"] = client_url
        url = annotations.get("url")
        links = [{"href": url, "text": "Cloud Monitoring incident"}] if url else []
        causes = [alert["cause"]] if alert else [a["cause"] for a in context["alerts"]]
        for cause in (c for c in causes if c):
            payload["custom_details"].setdefault("cause", cause)
            links += [{"href": link["url"], "text": link["text"]} for link in cause["links"]]
        if context["cause_unavailable"] and "cause" not in payload["custom_details"]:
            payload["custom_details"]["cause_unavailable"] = context["cause_unavailable"]
        if links:
            event["links"] = links[:MAX_LINKS]
        return event

    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        await self.deliver(notice, client, Unrecorded())

    async def deliver(self, notice: Notice, client: httpx.AsyncClient, progress: Progress) -> None:
        """Post the events one after another, each recorded once PagerDuty accepted it.

        PagerDuty limits events per routing key (120 a minute) and answers the rest 429: the
        retry then starts after the last accepted event, not at the first, so a notice with
        more alerts than the limit allows still gets every event through, each once.
        An event PagerDuty refuses for good (400) does not keep the others from being sent;
        the notice then fails with its error once they were.
        """
        refused: DeliveryError | None = None
        for part, event in event_parts(self.events(notice)):
            if progress.accepted(part):
                continue
            try:
                await request_json(client, self.url, event, "pagerduty")
            except DeliveryError as exc:
                if exc.retryable or exc.reason == FailureReason.AUTH:
                    raise  # later events would meet the same answer
                refused = refused or exc
                continue
            await progress.record(part)
        if refused is not None:
            raise refused


def event_parts(events: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each event with the name of its part: ``action:dedup_key``, numbered from the second
    event of the same action and key (two alerts of one group may share an incident id).
    Names, not positions, so that a notice rebuilt under a changed configuration still
    skips exactly the events PagerDuty has."""
    seen: Counter[tuple[str, str]] = Counter()
    parts = []
    for event in events:
        key = (event["event_action"], event["dedup_key"])
        seen[key] += 1
        suffix = f"#{seen[key]}" if seen[key] > 1 else ""
        parts.append((f"{key[0]}:{key[1]}{suffix}", event))
    return parts
