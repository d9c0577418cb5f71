"""Notification channel types (their descriptors), the rules a channel must follow, and how
sensitive labels are obfuscated when read back.

The types and labels are those the reference lists (email, slack, pagerduty, google_chat,
pubsub, sms, webhook_tokenauth, webhook_basicauth). ``labels`` must follow the type's
descriptor: an unknown key or a missing required one is refused naming it, so a typo
(``address`` for ``email_address``) is caught at creation rather than when an incident fails
to reach anyone. ``password``, ``auth_token`` and ``service_key`` are stored as given and
shown obfuscated (every character but the last four replaced by ``*``; all of them for a
secret of eight characters or fewer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from google.api import label_pb2
from google.cloud.monitoring_v3.types import NotificationChannel, NotificationChannelDescriptor

from observability.emulator.common.validation import (
    check_length,
    check_user_labels,
    invalid,
    required,
)

SENSITIVE_LABELS: Final = frozenset({"password", "auth_token", "service_key"})
MAX_DISPLAY_NAME_CHARS: Final = 512
MAX_DESCRIPTION_CHARS: Final = 1024

_ChannelPb = NotificationChannel.pb()
_DescriptorPb = NotificationChannelDescriptor.pb()
_Verification = _ChannelPb.VerificationStatus


@dataclass(frozen=True)
class LabelSpec:
    key: str
    description: str
    required: bool = True
    pattern: re.Pattern[str] | None = None
    shape: str = ""
    """How a valid value looks, for the refusal message."""


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_TOPIC = re.compile(r"projects/[^/]+/topics/[^/]+")
_SPACE = re.compile(r"spaces/[^/]+")


@dataclass(frozen=True)
class ChannelType:
    type: str
    display_name: str
    description: str
    labels: tuple[LabelSpec, ...]
    needs_verification: bool = False


CHANNEL_TYPES: Final[dict[str, ChannelType]] = {
    t.type: t
    for t in (
        ChannelType(
            "email",
            "Email",
            "A channel that sends notifications via email.",
            (LabelSpec("email_address", "An address to send email.", True, _EMAIL, "name@host"),),
        ),
        ChannelType(
            "slack",
            "Slack",
            "A channel that sends notifications to a Slack channel.",
            (
                LabelSpec("channel_name", "The Slack channel to post to, e.g. #alerts."),
                LabelSpec("auth_token", "The OAuth token of the Slack app.", required=False),
                LabelSpec("team", "The Slack workspace.", required=False),
            ),
        ),
        ChannelType(
            "pagerduty",
            "PagerDuty Services",
            "A channel that sends notifications to a PagerDuty service.",
            (LabelSpec("service_key", "The integration key of the PagerDuty service."),),
        ),
        ChannelType(
            "google_chat",
            "Google Chat",
            "A channel that sends notifications to a Google Chat space.",
            (LabelSpec("space", "The Google Chat space.", True, _SPACE, "spaces/SPACE_ID"),),
        ),
        ChannelType(
            "pubsub",
            "Pub/Sub",
            "A channel that publishes notifications to a Pub/Sub topic.",
            (LabelSpec("topic", "The topic to publish to.", True, _TOPIC, "projects/P/topics/T"),),
        ),
        ChannelType(
            "sms",
            "SMS",
            "A channel that sends notifications via SMS.",
            (
                LabelSpec(
                    "number",
                    "An E.164 phone number.",
                    True,
                    _E164,
                    "an E.164 number (+15555550100)",
                ),
            ),
            needs_verification=True,
        ),
        ChannelType(
            "webhook_tokenauth",
            "Webhooks",
            "A channel that POSTs notifications to a URL; a token may ride in the query string.",
            (LabelSpec("url", "The public URL to POST to.", True, _URL, "an http(s) URL"),),
        ),
        ChannelType(
            "webhook_basicauth",
            "Webhooks with basic authentication",
            "A channel that POSTs notifications to a URL with HTTP basic authentication.",
            (
                LabelSpec("url", "The public URL to POST to.", True, _URL, "an http(s) URL"),
                LabelSpec("username", "The basic-auth user name."),
                LabelSpec("password", "The basic-auth password."),
            ),
        ),
    )
}


def descriptor(project: str, channel_type: ChannelType) -> Any:
    """The raw ``NotificationChannelDescriptor`` protobuf of a type."""
    result = _DescriptorPb(
        name=f"projects/{project}/notificationChannelDescriptors/{channel_type.type}",
        type_=channel_type.type,
        display_name=channel_type.display_name,
        description=channel_type.description,
    )
    for spec in channel_type.labels:
        result.labels.add(
            key=spec.key,
            value_type=label_pb2.LabelDescriptor.ValueType.STRING,
            description=spec.description
            + ("" if spec.required else " (optional)")
            + (" Sensitive: obfuscated when read." if spec.key in SENSITIVE_LABELS else ""),
        )
    return result


def obfuscate(value: str) -> str:
    """How a sensitive label value reads back."""
    if len(value) <= 8:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


def obfuscated_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: obfuscate(v) if k in SENSITIVE_LABELS else v for k, v in labels.items()}


def keep_secrets(new: Mapping[str, str], stored: Mapping[str, str]) -> dict[str, str]:
    """``new`` labels where a sensitive value that is the obfuscated stored one (a client that
    read, changed something else and wrote back) keeps the stored secret."""
    out = dict(new)
    for key in SENSITIVE_LABELS & out.keys() & stored.keys():
        if out[key] == obfuscate(stored[key]) and out[key] != stored[key]:
            out[key] = stored[key]
    return out


def validate_channel(channel: Any, *, creating: bool) -> ChannelType:
    """Refuse a NotificationChannel (raw protobuf) Cloud Monitoring would refuse."""
    field = "notification_channel"
    if not channel.type_:
        raise required(f"{field}.type", "one of " + ", ".join(sorted(CHANNEL_TYPES)))
    channel_type = CHANNEL_TYPES.get(channel.type_)
    if channel_type is None:
        raise invalid(
            f"{field}.type",
            channel.type_,
            "unknown notification channel type; known: " + ", ".join(sorted(CHANNEL_TYPES)),
        )
    check_length(
        f"{field}.display_name", channel.display_name, MAX_DISPLAY_NAME_CHARS, "is limited to"
    )
    check_length(
        f"{field}.description", channel.description, MAX_DESCRIPTION_CHARS, "may not exceed"
    )
    if creating and channel.verification_status != _Verification.VERIFICATION_STATUS_UNSPECIFIED:
        raise invalid(
            f"{field}.verification_status",
            _Verification.Name(channel.verification_status),
            "may not be set; call VerifyNotificationChannel",
        )
    specs = {spec.key: spec for spec in channel_type.labels}
    for key, value in channel.labels.items():
        spec = specs.get(key)
        if spec is None:
            raise invalid(
                f"{field}.labels",
                key,
                f"not a label of channel type {channel.type_}; its labels are " + ", ".join(specs),
            )
        if spec.pattern is not None and not spec.pattern.fullmatch(value):
            raise invalid(f"{field}.labels[{key!r}]", value, f"must be {spec.shape}")
    for spec in channel_type.labels:
        if spec.required and not channel.labels.get(spec.key):
            raise required(
                f"{field}.labels[{spec.key!r}]", f"channel type {channel.type_} needs it"
            )
    check_user_labels(channel.user_labels, f"{field}.user_labels")
    return channel_type
