"""Google Chat incoming webhooks: ``POST {text}``; one thread per group.

Chat threads messages by ``threadKey``; using the group key keeps one storm in one thread
(``messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`` creates it the first time).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from observability.router.notice import Notice
from observability.router.receivers.base import Integration, post_json, read_secret
from observability.router.templates import Templates

TEXT_LIMIT = 4096


class GoogleChatConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    TEMPLATE_FIELDS: ClassVar[tuple[str, ...]] = ("text",)

    send_resolved: bool = True
    url: SecretStr | None = None
    url_file: str | None = None
    text: str = "{% include 'google_chat.text' %}"
    thread_by_group: bool = True


class GoogleChat(Integration):
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
        super().__init__(receiver, index, config.send_resolved, templates)
        self.config = config
        self.url = read_secret(config.url, config.url_file, None, "url", base_dir)

    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        text = self.render(self.config.text, notice.template_context()).strip()
        if len(text) > TEXT_LIMIT:
            text = text[: TEXT_LIMIT - 1] + "…"
        url = httpx.URL(self.url)
        if self.config.thread_by_group:
            thread = hashlib.sha256(notice.group_key.encode()).hexdigest()[:32]
            url = url.copy_merge_params(
                {"threadKey": thread, "messageReplyOption": "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"}
            )
        await post_json(client, str(url), {"text": text}, "google_chat")
