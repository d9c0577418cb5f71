"""The router's receivers pointed at local stand-ins, and what each of them was sent.

The receivers under test are the real integrations (Slack, PagerDuty, Google Chat, email,
webhook) built from the user's router configuration, with only their destinations changed:
``rewire`` replaces every URL, routing key and SMTP host with a stand-in from
``observability.standins``, which checks payloads as the real service does. A notification in
a test is what a stand-in accepted, so a template that renders a body Slack would refuse
fails the test instead of passing it.
"""

from __future__ import annotations

import copy
from contextlib import ExitStack
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from observability.emulator.process import free_port
from observability.standins import (
    GoogleChatStandIn,
    PagerDutyStandIn,
    SlackStandIn,
    SmtpStandIn,
    StandIn,
    WebhookStandIn,
    serving,
    smtp_server,
)

_SECRET_FILES = ("api_url_file", "routing_key_file", "url_file", "auth_password_file")
_SMTP_AUTH = ("auth_username", "auth_password", "auth_password_file")


@dataclass
class Received:
    """What one integration's stand-in accepted for one notice (PagerDuty: one event per
    alert), and the text a person would read in it."""

    bodies: list[Any] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(_strings(body) for body in self.bodies)

    @property
    def headline(self) -> str:
        """The first thing a person sees: Slack/Chat text, the page's summary, the subject."""
        for body in self.bodies:
            if isinstance(body, Message):
                return str(body.get("Subject", ""))
            if isinstance(body, dict):
                summary = (body.get("payload") or {}).get("summary")
                title = (
                    body.get("text") or summary or (body.get("commonLabels") or {}).get("alertname")
                )
                if title:
                    return str(title).splitlines()[0]
        return ""


def _strings(node: Any) -> str:
    """Every string in a JSON body or an email, joined: what ``text_contains`` searches."""
    if isinstance(node, Message):
        parts = [str(node.get("Subject", ""))]
        for part in node.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    parts.append(payload.decode("utf-8", "replace"))
        return "\n".join(parts)
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        return "\n".join(_strings(value) for value in node.values())
    if isinstance(node, list):
        return "\n".join(_strings(value) for value in node)
    return ""


class StandIns:
    """Running stand-ins for every integration kind (a context manager)."""

    def __init__(self) -> None:
        self.http: dict[str, StandIn] = {
            "slack": SlackStandIn(name="slack"),
            "pagerduty": PagerDutyStandIn(name="pagerduty"),
            "google_chat": GoogleChatStandIn(name="google_chat"),
            "webhook": WebhookStandIn(name="webhook"),
        }
        self.smtp: SmtpStandIn | None = None
        self._stack = ExitStack()

    def __enter__(self) -> StandIns:
        # if one fails to start, those already running are stopped before the error goes on
        with ExitStack() as stack:
            stack.enter_context(serving(self.http))
            self.smtp = stack.enter_context(smtp_server(free_port()))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def rewire(self, config: dict[str, Any]) -> dict[str, Any]:
        """A copy of a router configuration whose integrations all send to the stand-ins."""
        data = copy.deepcopy(config)
        assert self.smtp is not None, "start the stand-ins first"
        smarthost = f"{self.smtp.host}:{self.smtp.port}"
        settings = data.setdefault("global", {}) or {}
        data["global"] = settings
        for key in ("slack_api_url_file", *(f"smtp_{k}" for k in _SMTP_AUTH)):
            settings.pop(key, None)
        settings.update(
            slack_api_url=self.http["slack"].url,
            pagerduty_url=self.http["pagerduty"].url,
            smtp_smarthost=smarthost,
            smtp_require_tls=False,
        )
        settings.setdefault("smtp_from", "alert-tests@example.com")
        destination = {
            "slack_configs": {"api_url": self.http["slack"].url},
            "pagerduty_configs": {
                "url": self.http["pagerduty"].url,
                "routing_key": PagerDutyStandIn.routing_key,
            },
            "google_chat_configs": {"url": self.http["google_chat"].url},
            "webhook_configs": {"url": self.http["webhook"].url},
            "email_configs": {"smarthost": smarthost, "require_tls": False},
        }
        for receiver in data.get("receivers") or []:
            for section, values in destination.items():
                for integration in receiver.get(section) or []:
                    dropped = _SECRET_FILES + (_SMTP_AUTH if section == "email_configs" else ())
                    for key in dropped:
                        integration.pop(key, None)
                    integration.pop("http_config", None)
                    integration.update(values)
        return data

    def mark(self, kind: str) -> tuple[int, int]:
        """How much ``kind``'s stand-in has accepted and refused so far (pass to ``since``)."""
        if kind == "email":
            return (len(self.smtp.messages) if self.smtp else 0), 0
        standin = self.http[kind]
        return len(standin.received), len(standin.rejected)

    def since(self, kind: str, mark: tuple[int, int]) -> Received:
        """What ``kind``'s stand-in accepted and refused after ``mark``."""
        if kind == "email":
            return Received(list(self.smtp.messages[mark[0] :]) if self.smtp else [])
        standin = self.http[kind]
        return Received(
            [item.body for item in standin.received[mark[0] :]],
            [f"HTTP {status}: {body}" for status, body in standin.rejected[mark[1] :]],
        )
