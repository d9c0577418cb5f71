"""Google Chat incoming webhooks: ``POST {text}`` (and ``cardsV2``, one card per alert with a
cause); one thread per group.

Chat threads messages by ``threadKey``; using the group key keeps one storm in one thread
(``messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`` creates it the first time).
"""

from __future__ import annotations

import hashlib
import html
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from observability.router.notice import Notice
from observability.router.receivers.base import Integration, read_secret, request_json
from observability.router.templates import Templates

TEXT_LIMIT = 4096
HEADER_LIMIT = 200
MAX_CARDS = 8


class GoogleChatConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    TEMPLATE_FIELDS: ClassVar[tuple[str, ...]] = ("text",)

    send_resolved: bool = True
    url: SecretStr | None = None
    url_file: str | None = None
    text: str = "{% include 'google_chat.text' %}"
    thread_by_group: bool = True


class GoogleChat(Integration[GoogleChatConfig]):
    kind = "google_chat"
    markup = "mrkdwn"

    def __init__(
        self,
        receiver: str,
        index: int,
        config: GoogleChatConfig,
        templates: Templates,
        base_dir: Path,
    ) -> None:
        super().__init__(receiver, index, config, templates)
        self.url = read_secret(config.url, config.url_file, None, "url", base_dir)

    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        context = notice.template_context()
        text = self.render(self.config.text, context).strip()
        if len(text) > TEXT_LIMIT:
            text = text[: TEXT_LIMIT - 1] + "…"
        url = httpx.URL(self.url)
        if self.config.thread_by_group:
            thread = hashlib.sha256(notice.group_key.encode()).hexdigest()[:32]
            url = url.copy_merge_params(
                {"threadKey": thread, "messageReplyOption": "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"}
            )
        body: dict[str, Any] = {"text": text}
        cards = [
            cause_card(alert["fingerprint"], alert["cause"])
            for alert in context["alerts"]
            if alert["cause"]
        ]
        if cards:
            body["cardsV2"] = cards[:MAX_CARDS]
        await request_json(client, str(url), body, "google_chat")


def cause_card(fingerprint: str, cause: dict[str, Any]) -> dict[str, Any]:
    """One alert's cause as a Chat card (cards v2): facts, the error, the log tail, buttons."""
    widgets: list[dict[str, Any]] = []
    for task in cause["tasks"][:3]:
        detail = ", ".join(part for part in (task["tries"], task["duration"]) if part)
        widgets.append(
            _fact(
                "Task", f"{task['dag_id']}.{task['task_id']}" + (f" ({detail})" if detail else "")
            )
        )
    error = cause["error"]
    if error:
        widgets.append(_fact("Error", error["text"]))
        if error["recurrence_text"]:
            widgets.append(_fact("Seen", error["recurrence_text"]))
    for group in cause["calls"][:4]:
        widgets.append(_fact("Calls", group["text"]))
    tail = cause["log_tail"]
    if tail and tail["lines"]:
        lines = html.escape("\n".join(tail["lines"]))
        widgets.append({"textParagraph": {"text": f"<b>Last log lines</b>\n<pre>{lines}</pre>"}})
    buttons = [
        {"text": link["text"], "onClick": {"openLink": {"url": link["url"]}}}
        for link in cause["links"][:5]
    ]
    if buttons:
        widgets.append({"buttonList": {"buttons": buttons}})
    return {
        "cardId": f"cause-{fingerprint}",
        "card": {
            "header": {"title": _cut(cause["headline"], HEADER_LIMIT), "subtitle": cause["source"]},
            "sections": [{"widgets": widgets}] if widgets else [],
        },
    }


def _fact(label: str, text: str) -> dict[str, Any]:
    return {"decoratedText": {"topLabel": label, "text": html.escape(_cut(text, 1000))}}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
