"""Receivers: a name and the integrations it uses (Slack, PagerDuty, Google Chat, email,
webhooks, Microsoft Teams, Opsgenie, Jira)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from observability.router.receivers.base import Integration, IntegrationConfigError
from observability.router.receivers.email import Email, EmailConfig, SmtpDefaults
from observability.router.receivers.google_chat import GoogleChat, GoogleChatConfig
from observability.router.receivers.jira import Jira, JiraConfig
from observability.router.receivers.msteams import (
    MSTeams,
    MSTeamsConfig,
    MSTeamsV2,
    MSTeamsV2Config,
)
from observability.router.receivers.opsgenie import Opsgenie, OpsgenieConfig
from observability.router.receivers.pagerduty import PagerDuty, PagerDutyConfig
from observability.router.receivers.slack import Slack, SlackConfig
from observability.router.receivers.webhook import Webhook, WebhookConfig
from observability.router.templates import Markup, Templates


class ReceiverConfig(BaseModel):
    """One entry of ``receivers:``; a receiver with no integration drops what it gets."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    slack_configs: list[SlackConfig] = Field(default_factory=list)
    pagerduty_configs: list[PagerDutyConfig] = Field(default_factory=list)
    google_chat_configs: list[GoogleChatConfig] = Field(default_factory=list)
    email_configs: list[EmailConfig] = Field(default_factory=list)
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    msteams_configs: list[MSTeamsConfig] = Field(default_factory=list)
    msteamsv2_configs: list[MSTeamsV2Config] = Field(default_factory=list)
    opsgenie_configs: list[OpsgenieConfig] = Field(default_factory=list)
    jira_configs: list[JiraConfig] = Field(default_factory=list)


@dataclass(frozen=True)
class IntegrationDefaults:
    """The ``global:`` settings integrations fall back on."""

    slack_api_url: SecretStr | None
    pagerduty_url: str | None
    smtp: SmtpDefaults
    opsgenie_api_key: SecretStr | None = None
    opsgenie_api_url: str | None = None
    jira_api_url: str | None = None


@dataclass
class Receiver:
    name: str
    integrations: list[Integration]


class ReceiverBuildError(ValueError):
    """An integration could not be built; ``path`` locates the setting within the receiver."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def build_receiver(
    config: ReceiverConfig, defaults: IntegrationDefaults, templates: Templates, base_dir: Path
) -> Receiver:
    """Instantiate every integration, checking secrets and templates now, not at 3 a.m."""
    name = config.name
    sections: list[tuple[str, Sequence[BaseModel], Callable[[int, Any], Integration]]] = [
        (
            "slack_configs",
            config.slack_configs,
            lambda i, c: Slack(name, i, c, templates, defaults.slack_api_url, base_dir),
        ),
        (
            "pagerduty_configs",
            config.pagerduty_configs,
            lambda i, c: PagerDuty(name, i, c, templates, defaults.pagerduty_url, base_dir),
        ),
        (
            "google_chat_configs",
            config.google_chat_configs,
            lambda i, c: GoogleChat(name, i, c, templates, base_dir),
        ),
        (
            "email_configs",
            config.email_configs,
            lambda i, c: Email(name, i, c, templates, defaults.smtp, base_dir),
        ),
        (
            "webhook_configs",
            config.webhook_configs,
            lambda i, c: Webhook(name, i, c, templates, base_dir),
        ),
        (
            "msteams_configs",
            config.msteams_configs,
            lambda i, c: MSTeams(name, i, c, templates, base_dir),
        ),
        (
            "msteamsv2_configs",
            config.msteamsv2_configs,
            lambda i, c: MSTeamsV2(name, i, c, templates, base_dir),
        ),
        (
            "opsgenie_configs",
            config.opsgenie_configs,
            lambda i, c: Opsgenie(
                name,
                i,
                c,
                templates,
                defaults.opsgenie_api_key,
                defaults.opsgenie_api_url,
                base_dir,
            ),
        ),
        (
            "jira_configs",
            config.jira_configs,
            lambda i, c: Jira(name, i, c, templates, defaults.jira_api_url, base_dir),
        ),
    ]
    integrations: list[Integration] = []
    for section, configs, make in sections:
        for index, item in enumerate(configs):
            for field in getattr(item, "TEMPLATE_FIELDS", ()):
                source = getattr(item, field)
                try:
                    if source:
                        markup: Markup = "html" if field == "html" else "text"
                        templates.check(source, name=field, markup=markup)
                except ValueError as exc:
                    raise ReceiverBuildError((section, index, field), str(exc)) from None
            try:
                integrations.append(make(index, item))
            except IntegrationConfigError as exc:
                raise ReceiverBuildError((section, index, exc.field), str(exc)) from None
    return Receiver(name, integrations)
