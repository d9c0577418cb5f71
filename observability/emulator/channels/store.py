"""Durable storage of notification channels (``notification_channels.db``), secrets included.

The stored body is the channel's REST JSON with its real label values; only the API edge
obfuscates them. The notifier reads channels here, in-process, with the secrets it needs:

    store = NotificationChannelStore(data_dir / "notification_channels.db")
    channel = store.get_channel("projects/p/notificationChannels/123")
    channel.type, channel.labels["url"], channel.labels["password"], channel.enabled
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.cloud.monitoring_v3.types import NotificationChannel
from google.protobuf import json_format

from observability.emulator.alert_policies.store import ResourceTable

_ChannelPb = NotificationChannel.pb()


def channel_to_body(channel: Any) -> dict[str, Any]:
    body: dict[str, Any] = json_format.MessageToDict(channel)
    return body


def channel_from_body(body: dict[str, Any]) -> Any:
    return json_format.ParseDict(body, _ChannelPb())


def split_channel_name(name: str) -> tuple[str, str] | None:
    """``(project, channel id)`` of ``projects/P/notificationChannels/ID``, else None."""
    parts = name.split("/")
    if (
        len(parts) == 4
        and parts[0] == "projects"
        and parts[2] == "notificationChannels"
        and parts[1]
        and parts[3]
    ):
        return parts[1], parts[3]
    return None


@dataclass(frozen=True, slots=True)
class StoredChannel:
    """A notification channel with its real (unobfuscated) labels."""

    project: str
    id: str
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return f"projects/{self.project}/notificationChannels/{self.id}"

    @property
    def type(self) -> str:
        return str(self.body.get("type", ""))

    @property
    def display_name(self) -> str:
        return str(self.body.get("displayName", ""))

    @property
    def labels(self) -> dict[str, str]:
        """The type's labels, secrets in clear (``url``, ``username``, ``password``...)."""
        return dict(self.body.get("labels", {}))

    @property
    def user_labels(self) -> dict[str, str]:
        return dict(self.body.get("userLabels", {}))

    @property
    def enabled(self) -> bool:
        return bool(self.body.get("enabled", True))

    def proto(self) -> Any:
        """The raw ``NotificationChannel`` protobuf, secrets in clear."""
        return channel_from_body(self.body)


class NotificationChannelStore(ResourceTable):
    """Notification channels per project."""

    def get_channel(self, name: str) -> StoredChannel | None:
        """The channel of a full resource name, or None."""
        parts = split_channel_name(name)
        if parts is None:
            return None
        found = self.get(*parts)
        return None if found is None else StoredChannel(found.project, found.id, found.body)

    def list_channels(self, project: str) -> list[StoredChannel]:
        return [StoredChannel(r.project, r.id, r.body) for r in self.rows(project)]

    def channels(self, names: Iterable[str]) -> list[StoredChannel]:
        """The channels of a policy's ``notificationChannels`` that exist, in that order."""
        out = []
        for name in names:
            channel = self.get_channel(name)
            if channel is not None:
                out.append(channel)
        return out
