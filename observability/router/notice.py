"""The notice: what one group tells one receiver at one flush.

It freezes the group's alerts with their status at that moment, so the outbox can deliver it
later (after a restart, a retry, a receiver outage) and still say exactly what was decided.
Receivers render it; the Jinja2 templates see ``template_context()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Notice:
    """One notification of one group to one receiver. ``alerts`` are in Alertmanager's shape."""

    id: str
    receiver: str
    group_key: str
    group_labels: dict[str, str]
    alerts: list[dict[str, Any]]
    external_url: str
    created_at: float
    truncated_alerts: int = 0

    @property
    def firing(self) -> list[dict[str, Any]]:
        return [alert for alert in self.alerts if alert["status"] == "firing"]

    @property
    def resolved(self) -> list[dict[str, Any]]:
        return [alert for alert in self.alerts if alert["status"] == "resolved"]

    @property
    def status(self) -> str:
        """``firing`` while any alert fires, else ``resolved`` (Alertmanager's rule)."""
        return "firing" if self.firing else "resolved"

    @property
    def common_labels(self) -> dict[str, str]:
        return _common([alert["labels"] for alert in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common([alert["annotations"] for alert in self.alerts])

    def only_firing(self) -> Notice:
        """This notice without its resolved alerts (for ``send_resolved: false``)."""
        return Notice(**{**self.to_json(), "alerts": self.firing})

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "receiver": self.receiver,
            "group_key": self.group_key,
            "group_labels": self.group_labels,
            "alerts": self.alerts,
            "external_url": self.external_url,
            "created_at": self.created_at,
            "truncated_alerts": self.truncated_alerts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notice:
        return cls(**data)

    def template_context(self) -> dict[str, Any]:
        """The variables every template sees (snake_case versions of Alertmanager's ``.Data``)."""
        alerts = [_template_alert(alert) for alert in self.alerts]
        return {
            "receiver": self.receiver,
            "status": self.status,
            "alerts": alerts,
            "firing": [alert for alert in alerts if alert["status"] == "firing"],
            "resolved": [alert for alert in alerts if alert["status"] == "resolved"],
            "group_labels": self.group_labels,
            "common_labels": self.common_labels,
            "common_annotations": self.common_annotations,
            "external_url": self.external_url,
            "group_key": self.group_key,
            "truncated_alerts": self.truncated_alerts,
        }


def _template_alert(alert: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": alert["status"],
        "labels": alert["labels"],
        "annotations": alert["annotations"],
        "starts_at": alert["startsAt"],
        "ends_at": alert["endsAt"] if alert["status"] == "resolved" else None,
        "generator_url": alert["generatorURL"],
        "fingerprint": alert["fingerprint"],
    }


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first, *rest = maps
    return {key: value for key, value in first.items() if all(m.get(key) == value for m in rest)}
