"""The notice: what one group tells one receiver at one flush.

It freezes the group's alerts with their status at that moment, so the outbox can deliver it
later (after a restart, a retry, a receiver outage) and still say exactly what was decided.
Receivers render it; the Jinja2 templates see ``template_context()``. Just before delivery
the enrichment stage adds the causes of its alerts (``with_causes``); they are not part of
what the outbox stores, since the ``causes`` table keeps them per incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from observability.router.enrichment.cause import Cause


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
    causes: dict[str, Cause] = field(default_factory=dict)
    """Alert fingerprint -> the cause found for it (enrichment)."""
    cause_note: str | None = None
    """One line saying why causes are missing ("details unavailable: ..."), or None."""

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
        return Notice(
            **{**self.to_json(), "alerts": self.firing},
            causes=self.causes,
            cause_note=self.cause_note,
        )

    def with_causes(self, causes: dict[str, Cause], note: str | None) -> Notice:
        """This notice with the causes of its alerts, also as annotations (so Alertmanager
        webhook consumers see them): ``cause``, ``cause_error``, ``airflow_log_url``, ...,
        and ``cause_unavailable`` when ``note`` says why some are missing."""
        alerts = []
        for alert in self.alerts:
            extra = (
                causes[alert["fingerprint"]].annotations() if alert["fingerprint"] in causes else {}
            )
            if note and alert["fingerprint"] not in causes:
                extra["cause_unavailable"] = note
            alerts.append({**alert, "annotations": {**alert["annotations"], **extra}})
        return Notice(**{**self.to_json(), "alerts": alerts}, causes=dict(causes), cause_note=note)

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
        alerts = [
            _template_alert(alert, self.causes.get(alert["fingerprint"])) for alert in self.alerts
        ]
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
            "cause_unavailable": self.cause_note,
        }


def _template_alert(alert: dict[str, Any], cause: Cause | None) -> dict[str, Any]:
    return {
        "status": alert["status"],
        "labels": alert["labels"],
        "annotations": alert["annotations"],
        "starts_at": alert["startsAt"],
        "ends_at": alert["endsAt"] if alert["status"] == "resolved" else None,
        "generator_url": alert["generatorURL"],
        "fingerprint": alert["fingerprint"],
        "cause": cause.for_templates() if cause is not None else None,
    }


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first, *rest = maps
    return {key: value for key, value in first.items() if all(m.get(key) == value for m in rest)}
