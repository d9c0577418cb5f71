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
from pathlib import Path
from typing import Any, ClassVar, Final

from google.cloud.monitoring_v3.types import NotificationChannel

from observability.emulator.common.crud import ResourceName, ResourceStore, StoredMessage

CHANNELS: Final = ResourceName(
    "notificationChannels", "CHANNEL_ID", "Notification channel not found"
)


@dataclass(frozen=True, slots=True)
class StoredChannel(StoredMessage):
    """A notification channel with its real (unobfuscated) labels; ``proto()`` is the raw
    ``NotificationChannel``, secrets in clear."""

    kind: ClassVar[ResourceName] = CHANNELS
    message: ClassVar[Any] = NotificationChannel.pb()

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


class NotificationChannelStore(ResourceStore[StoredChannel]):
    """Notification channels per project."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, StoredChannel)

    def get_channel(self, name: str) -> StoredChannel | None:
        """The channel of a full resource name, or None."""
        parts = CHANNELS.split(name)
        return None if parts is None else self.get(*parts)

    def list_channels(self, project: str) -> list[StoredChannel]:
        return self.rows(project)

    def channels(self, names: Iterable[str]) -> list[StoredChannel]:
        """The channels of a policy's ``notificationChannels`` that exist, in that order."""
        out = []
        for name in names:
            channel = self.get_channel(name)
            if channel is not None:
                out.append(channel)
        return out
