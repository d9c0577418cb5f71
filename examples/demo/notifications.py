"""The notifications the stand-ins accepted, in one shape for the story and the report."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from typing import Any

from examples.demo.routing import ONCALL, OWNERS, TEAM_CHANNEL
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


def _page(body: dict[str, Any]) -> tuple[str, str]:
    """The summary, then the links the page carries (the router's cause adds the task log,
    the DAG run and Logs Explorer), as PagerDuty shows them under the incident."""
    title = f"{body['event_action']} (dedup_key {body['dedup_key']})"
    texts = [body.get("payload", {}).get("summary", "the incident closed")]
    texts += [f"[{link['text']}] {link['href']}" for link in body.get("links", [])]
    return title, "\n".join(texts)


def _slack(body: dict[str, Any]) -> tuple[str, str]:
    """Every text Slack shows: sections, their fields, and the link buttons."""
    texts = [body.get("text", "")]
    for block in body.get("blocks", []):
        texts.append(block.get("text", {}).get("text", ""))
        texts += [field.get("text", "") for field in block.get("fields", [])]
        texts += [
            f"[{element['text']['text']}] {element['url']}"
            for element in block.get("elements", [])
            if element.get("type") == "button" and element.get("url")
        ]
    return str(body.get("channel") or "Slack"), "\n".join(text for text in texts if text)


def _email(message: Message) -> tuple[str, str]:
    plain = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    payload = plain[0].get_payload(decode=True) if plain else b""
    text = payload.decode(errors="replace") if isinstance(payload, bytes) else ""
    return f"{message['Subject']} (to {message['To']})", text


def collect(services: Services) -> list[Notification]:
    """PagerDuty events, then Slack messages, then emails, each in arrival order."""
    sources: list[tuple[str, str, list[Any], Any, str]] = [
        ("pagerduty", ONCALL, services.pagerduty.bodies(), _page, "json"),
        ("slack", TEAM_CHANNEL, services.slack.bodies(), _slack, "json"),
        ("email", OWNERS, services.mail.messages, _email, "eml"),
    ]
    found = []
    for service, receiver, items, describe, suffix in sources:
        for number, item in enumerate(items, start=1):
            title, text = describe(item)
            raw = item.as_bytes() if isinstance(item, Message) else item
            file = f"{service}-{number:02d}.{suffix}"
            found.append(Notification(service, receiver, title, text, file, raw))
    return found
