"""What an alert says is shown as text in each channel, never as the channel's markup."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from observability.router.notice import Notice
from observability.router.receivers.google_chat import GoogleChat, GoogleChatConfig
from observability.router.receivers.slack import Slack, SlackConfig
from observability.router.templates import Templates
from tests.router.pipeline import first_notice

SUMMARY = "<!channel> disk & <https://evil.example|click here>"
URL = "https://console.cloud.google.com/incidents/1|fake text"


def notice(tmp_path: Path) -> Notice:
    return first_notice(
        tmp_path,
        labels={"alertname": "Disk <b>", "dag_id": "etl>"},
        annotations={"summary": SUMMARY, "url": URL},
    )


def test_slack_text_escapes_values_and_keeps_the_templates_link(tmp_path: Path) -> None:
    slack = Slack("s", 0, SlackConfig(), Templates(), SecretStr("http://x"), tmp_path)
    body = slack.payload(notice(tmp_path))
    text = body["blocks"][1]["text"]["text"]
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt; disk &amp; &lt;https://evil.example|click here&gt;" in text
    assert "<https://console.cloud.google.com/incidents/1%7Cfake text|console>" in text
    assert body["text"] == "[FIRING:1] Disk &lt;b&gt;"


def test_google_chat_text_is_escaped_like_slack(tmp_path: Path) -> None:
    chat = GoogleChat("c", 0, GoogleChatConfig(url=SecretStr("http://x")), Templates(), tmp_path)
    text = chat.render(chat.config.text, notice(tmp_path).template_context())
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "dag_id=etl&gt;" in text
