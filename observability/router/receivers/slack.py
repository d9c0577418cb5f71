"""Slack incoming webhooks: ``POST {text, blocks}``, answered ``200 ok``.

``text`` carries the title (Slack shows it in notifications), blocks carry the body; Slack
rejects a section longer than 3,000 characters, so the body is cut there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from observability.router.notice import Notice
from observability.router.receivers.base import Integration, post_json, read_secret
from observability.router.templates import Templates

SECTION_LIMIT = 3000


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


class Slack(Integration):
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
        super().__init__(receiver, index, config.send_resolved, templates)
        self.config = config
        self.url = read_secret(config.api_url, config.api_url_file, global_url, "api_url", base_dir)

    def payload(self, notice: Notice) -> dict[str, Any]:
        context = notice.template_context()
        title = self.render(self.config.title, context).strip()
        text = self.render(self.config.text, context).strip()
        blocks: list[dict[str, Any]] = [_section(f"*{title}*")]
        if text:
            blocks.append(_section(text))
        body: dict[str, Any] = {"text": title, "blocks": blocks}
        for name in ("channel", "username", "icon_emoji", "icon_url"):
            value = getattr(self.config, name)
            if value:
                body[name] = value
        return body

    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        await post_json(client, self.url, self.payload(notice), "slack")


def _section(text: str) -> dict[str, Any]:
    if len(text) > SECTION_LIMIT:
        text = text[: SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
