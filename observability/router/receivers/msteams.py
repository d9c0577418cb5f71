"""Microsoft Teams: ``msteamsv2_configs`` (Workflows / Power Automate webhooks, an Adaptive Card)
and ``msteams_configs`` (the older Office 365 connector, a MessageCard), as Alertmanager sends them.

Both post one message per notice to a secret URL (``webhook_url`` or ``webhook_url_file``, never
both, as Alertmanager requires) with a title and a Markdown text rendered from templates; the
colour says firing (red) or resolved (green). Teams rejects a message over 28 KB, so the text is
cut well below that. Teams reads Markdown in titles and texts: alert values are escaped for it
(``templates.escape_markdown``), so only the templates make links and emphasis.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from observability.router.notice import Notice
from observability.router.receivers.base import Integration, read_secret, request_json
from observability.router.templates import Markup, Templates

TEXT_LIMIT = 20_000
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_TYPE = "application/vnd.microsoft.card.adaptive"


class MSTeamsV2Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    TEMPLATE_FIELDS: ClassVar[tuple[str, ...]] = ("title", "text")

    send_resolved: bool = True
    webhook_url: SecretStr | None = None
    webhook_url_file: str | None = None
    title: str = "{% include 'msteamsv2.title' %}"
    text: str = "{% include 'msteamsv2.text' %}"


class MSTeamsConfig(MSTeamsV2Config):
    TEMPLATE_FIELDS: ClassVar[tuple[str, ...]] = ("title", "summary", "text")

    title: str = "{% include 'msteams.title' %}"
    summary: str = "{% include 'msteams.summary' %}"
    text: str = "{% include 'msteams.text' %}"


_TeamsConfig = TypeVar("_TeamsConfig", bound=MSTeamsV2Config)


class _TeamsWebhook(Integration[_TeamsConfig]):
    """What both Teams integrations share: the secret URL, rendering, posting."""

    markup = "markdown"

    def __init__(
        self,
        receiver: str,
        index: int,
        config: _TeamsConfig,
        templates: Templates,
        base_dir: Path,
    ) -> None:
        super().__init__(receiver, index, config, templates)
        self.url = read_secret(
            config.webhook_url, config.webhook_url_file, None, "webhook_url", base_dir
        )

    def rendered(self, source: str, context: dict[str, Any], markup: Markup | None = None) -> str:
        text = self.render(source, context, markup).strip()
        return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"

    @abstractmethod
    def payload(self, notice: Notice) -> dict[str, Any]:
        """The JSON body Teams expects for ``notice``."""

    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        await request_json(client, self.url, self.payload(notice), self.kind)


class MSTeamsV2(_TeamsWebhook[MSTeamsV2Config]):
    kind = "msteamsv2"

    def payload(self, notice: Notice) -> dict[str, Any]:
        """Alertmanager's Adaptive Card: a heading in the status colour, then the text."""
        context = notice.template_context()
        color = "Attention" if notice.status == "firing" else "Good"
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": ADAPTIVE_CARD_TYPE,
                    "contentUrl": None,
                    "content": {
                        "$schema": ADAPTIVE_CARD_SCHEMA,
                        "type": "AdaptiveCard",
                        "version": "1.2",
                        "body": [
                            {
                                "type": "TextBlock",
                                "text": self.rendered(self.config.title, context) or "alerts",
                                "weight": "Bolder",
                                "size": "Medium",
                                "wrap": True,
                                "style": "heading",
                                "color": color,
                            },
                            {
                                "type": "TextBlock",
                                "text": self.rendered(self.config.text, context),
                                "wrap": True,
                            },
                        ],
                        "msteams": {"width": "full"},
                    },
                }
            ],
        }


class MSTeams(_TeamsWebhook[MSTeamsConfig]):
    kind = "msteams"

    def payload(self, notice: Notice) -> dict[str, Any]:
        """Alertmanager's MessageCard (the connector needs a summary or a text)."""
        context = notice.template_context()
        title = self.rendered(self.config.title, context)
        return {
            "@context": "http://schema.org/extensions",
            "type": "MessageCard",
            "title": title,
            # The notification preview: plain text, where an escape would show.
            "summary": self.rendered(self.config.summary, context, "text") or title or "alerts",
            "text": self.rendered(self.config.text, context),
            "themeColor": "8C1A1A" if notice.status == "firing" else "2DC72D",
        }
