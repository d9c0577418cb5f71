"""Slack incoming webhooks: ``POST {text, blocks}``, answered ``200 ok``.

``text`` carries the title (Slack shows it in notifications), blocks carry the body; Slack
rejects a section longer than 3,000 characters, so the body is cut there. An alert with a
cause adds its own blocks: the facts as fields, the error and the task log's last lines in
code blocks, and link buttons (Slack allows 50 blocks, 10 fields and 25 buttons).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from observability.router.notice import Notice
from observability.router.receivers.base import Integration, read_secret, request_json
from observability.router.templates import Templates

SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
BUTTON_TEXT_LIMIT = 75
MAX_CAUSES = 8


class SlackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    TEMPLATE_FIELDS: ClassVar[tuple[str, ...]] = ("title", "text")

    send_resolved: bool = False
    api_url: SecretStr | None = None
    api_url_file: str | None = None
    channel: str | None = None
    username: str | None = None
    icon_emoji: str | None = None
    icon_url: str | None = None
    title: str = "{% include 'slack.title' %}"
    text: str = "{% include 'slack.text' %}"


class Slack(Integration[SlackConfig]):
    kind = "slack"
    markup = "mrkdwn"

    def __init__(
        self,
        receiver: str,
        index: int,
        config: SlackConfig,
        templates: Templates,
        global_url: SecretStr | None,
        base_dir: Path,
    ) -> None:
        super().__init__(receiver, index, config, templates)
        self.url = read_secret(config.api_url, config.api_url_file, global_url, "api_url", base_dir)

    def payload(self, notice: Notice) -> dict[str, Any]:
        context = notice.template_context()
        title = self.render(self.config.title, context).strip()
        text = self.render(self.config.text, context).strip()
        blocks: list[dict[str, Any]] = [_section(f"*{title}*")]
        if text:
            blocks.append(_section(text))
        causes = [alert["cause"] for alert in context["alerts"] if alert["cause"]]
        for cause in causes[:MAX_CAUSES]:
            blocks += cause_blocks(cause)
        body: dict[str, Any] = {"text": title, "blocks": blocks}
        for name in ("channel", "username", "icon_emoji", "icon_url"):
            value = getattr(self.config, name)
            if value:
                body[name] = value
        return body

    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        await request_json(client, self.url, self.payload(notice), "slack")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_LIMIT)}}


def cause_blocks(cause: dict[str, Any]) -> list[dict[str, Any]]:
    """One alert's cause as Slack blocks (``cause`` as templates see it)."""
    fields = [f"*What broke*\n{cause['headline']}"]
    for task in cause["tasks"][:3]:
        detail = ", ".join(part for part in (task["tries"], task["duration"]) if part)
        name = f"*Task*\n`{task['dag_id']}.{task['task_id']}`"
        fields.append(f"{name} {detail}" if detail else name)
    error = cause["error"]
    if error:
        fields.append(f"*Error*\n{error['type']}")
        if error["recurrence_text"]:
            fields.append(f"*Seen*\n{error['recurrence_text']}")
    for group in cause["calls"][:4]:
        fields.append(f"*Calls*\n{group['text']}")
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": _cut(text, FIELD_LIMIT)} for text in fields[:10]],
        }
    ]
    if error and error["message"]:
        blocks.append(_section(_code(f"{error['type']}: {error['message']}")))
    tail = cause["log_tail"]
    if tail and tail["lines"]:
        lines = "\n".join(tail["lines"])
        blocks.append(_section(f"Last lines of {tail['task_id']}'s log:\n" + _code(lines)))
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": _cut(link["text"], BUTTON_TEXT_LIMIT)},
            "url": link["url"],
        }
        for link in cause["links"][:5]
        if len(link["url"]) <= SECTION_LIMIT
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def _code(text: str) -> str:
    """A code block Slack shows as written (a fence inside would close it early)."""
    inner = _cut(text.replace("```", "` ` `"), SECTION_LIMIT - 40)
    return f"```{inner}```"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
