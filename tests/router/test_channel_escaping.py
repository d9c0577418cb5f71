"""What an alert says is shown as text in each channel, never as the channel's markup."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr

from observability.router.notice import Notice
from observability.router.receivers.google_chat import GoogleChat, GoogleChatConfig
from observability.router.receivers.jira import Jira, JiraConfig
from observability.router.receivers.msteams import (
    MSTeams,
    MSTeamsConfig,
    MSTeamsV2,
    MSTeamsV2Config,
)
from observability.router.receivers.opsgenie import Opsgenie, OpsgenieConfig
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


MARKUP_SUMMARY = "[click](https://evil.example) **now** <b>x</b> [~admin] !https://evil/p.png!"


def markup_notice(tmp_path: Path) -> Notice:
    return first_notice(
        tmp_path,
        labels={"alertname": "Disk_[full]", "severity": "critical"},
        annotations={"summary": MARKUP_SUMMARY, "url": "https://console.example/i/1) [x](y"},
    )


def test_teams_text_escapes_markdown_and_keeps_the_templates_link(tmp_path: Path) -> None:
    notice = markup_notice(tmp_path)
    config = MSTeamsV2Config(webhook_url=SecretStr("http://x"))
    card = MSTeamsV2("t", 0, config, Templates(), tmp_path).payload(notice)
    title, text = (block["text"] for block in card["attachments"][0]["content"]["body"])
    assert title == "[FIRING:1] Disk\\_\\[full\\]"
    assert "\\[click\\](https://evil.example) \\*\\*now\\*\\* \\<b\\>x\\</b\\>" in text
    assert "[click](" not in text.replace("\\[click\\](", "")
    # The template's link, to the URL as given, which can no longer end it early.
    assert "[console](https://console.example/i/1%29%20%5Bx%5D%28y)" in text
    connector = MSTeams(
        "t", 0, MSTeamsConfig(webhook_url=SecretStr("http://x")), Templates(), tmp_path
    )
    card = connector.payload(notice)
    assert "\\*\\*now\\*\\*" in card["text"] and card["summary"] == "[FIRING:1] Disk_[full]"


def test_jira_wiki_text_escapes_links_mentions_and_images(tmp_path: Path) -> None:
    notice = markup_notice(tmp_path)
    config = JiraConfig(api_url="https://jira.example/rest/api/2", project="OPS", issue_type="Bug")
    jira = Jira("j", 0, config, Templates(), None, tmp_path)
    fields = jira.issue_fields(notice.template_context(), "ALERT{x}", existing=False)
    description = fields["description"]
    assert "\\[\\~admin\\] \\!https://evil/p.png\\!" in description
    assert "[~admin]" not in description and "!https://evil" not in description.replace("\\!", "")
    assert fields["summary"] == "[FIRING:1] Disk_[full]"  # a plain-text field: as it is
    v3 = Jira(
        "j",
        0,
        JiraConfig(api_url="https://jira.example/rest/api/3", project="OPS", issue_type="Bug"),
        Templates(),
        None,
        tmp_path,
    )
    document = v3.issue_fields(notice.template_context(), "ALERT{x}", existing=False)
    texts = json.dumps(document["description"])
    assert "[~admin]" in texts  # ADF text nodes are literal: nothing to escape


def test_opsgenie_message_escapes_html(tmp_path: Path) -> None:
    notice = first_notice(tmp_path, labels={"alertname": '<a href="https://evil">click</a>'})
    opsgenie = Opsgenie(
        "o", 0, OpsgenieConfig(api_key=SecretStr("k")), Templates(), None, None, tmp_path
    )
    [(_, _, body)] = opsgenie.requests(notice)
    assert (
        "<a" not in body["message"] and "&lt;a href=&#34;https://evil&#34;&gt;" in body["message"]
    )
    (tmp_path / "long").mkdir()
    long = first_notice(tmp_path / "long", labels={"alertname": "x" * 110 + "<<<<"})
    [(_, _, body)] = opsgenie.requests(long)
    assert body["message"].endswith("&lt;…") and len(body["message"]) <= 130
