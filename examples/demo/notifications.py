"""The notifications the stand-ins accepted, in one shape for the story and the report."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from typing import Any

from examples.demo.services import Services


@dataclass(frozen=True)
class Notification:
    """One message as its receiver got it: ``raw`` is the JSON body or the email's bytes."""

    service: str
    receiver: str
    title: str
    text: str
    file: str
    raw: Any


def _slack_text(body: dict[str, Any]) -> str:
    texts = [body.get("text", "")]
    texts += [block.get("text", {}).get("text", "") for block in body.get("blocks", [])]
    return "\n".join(text for text in texts if text)


def _email_text(message: Message) -> str:
    plain = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    payload = plain[0].get_payload(decode=True) if plain else b""
    return payload.decode(errors="replace") if isinstance(payload, bytes) else ""


def collect(services: Services) -> list[Notification]:
    """PagerDuty events, then Slack messages, then emails, each in arrival order."""
    found = [
        Notification(
            service="pagerduty",
            receiver="analytics-oncall",
            title=f"{body['event_action']} (dedup_key {body['dedup_key']})",
            text=body.get("payload", {}).get("summary", "the incident closed"),
            file=f"pagerduty-{number:02d}.json",
            raw=body,
        )
        for number, body in enumerate(services.pagerduty.bodies(), start=1)
    ]
    found += [
        Notification(
            service="slack",
            receiver="analytics-slack",
            title=str(body.get("channel") or "Slack"),
            text=_slack_text(body),
            file=f"slack-{number:02d}.json",
            raw=body,
        )
        for number, body in enumerate(services.slack.bodies(), start=1)
    ]
    found += [
        Notification(
            service="email",
            receiver="payments-owners",
            title=f"{message['Subject']} (to {message['To']})",
            text=_email_text(message),
            file=f"email-{number:02d}.eml",
            raw=message.as_bytes(),
        )
        for number, message in enumerate(services.mail.messages, start=1)
    ]
    return found
