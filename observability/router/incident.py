"""Cloud Monitoring's webhook payload (schema 1.2, leniently) and the alert an incident becomes.

Monitoring's senders differ: test notifications say ``version: "test"``, older ones ``1.0``
with a minimal incident, ``documentation`` may be a plain string, and fields come and go. So
every field but ``incident_id`` and ``state`` is optional, unknown fields are kept (they are
stored with the incident's history), and a wrong *type* is the only thing refused.

Labels of the alert, lowest precedence first: resource labels, metric labels, the policy's
user labels, then what the incident itself says (``alertname`` = policy name, ``incident_id``,
``state``, ``condition``, ``severity``, ``resource_type``). ``severity`` is lower-cased; when
the policy has none ("no severity") a ``severity`` user label is kept instead.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from observability.router.alert import Alert, one_label_fingerprint
from observability.router.timestamps import UnixSeconds

NO_SEVERITY = "no severity"


class _Lenient(BaseModel):
    """Unknown fields are kept, but no number in them may be NaN or infinite: the body is
    stored as JSON (PostgreSQL's ``jsonb`` refuses those) and shown by the history API."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _finite_extras(self) -> Any:
        for name, value in (self.model_extra or {}).items():
            if not _finite(value):
                raise ValueError(f"{name}: numbers must be finite")
        return self


def _finite(value: Any) -> bool:
    """Whether no number within ``value`` (any JSON value) is NaN or infinite."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


class Documentation(_Lenient):
    content: str = ""
    mime_type: str | None = None
    subject: str | None = None


class Resource(_Lenient):
    type: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class Metric(_Lenient):
    type: str | None = None
    displayName: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class Metadata(_Lenient):
    system_labels: dict[str, str] = Field(default_factory=dict)
    user_labels: dict[str, str] = Field(default_factory=dict)


class Condition(_Lenient):
    name: str | None = None
    displayName: str | None = None


class Incident(_Lenient):
    """``incident`` of the payload; every field Monitoring may leave out is optional."""

    incident_id: str = Field(min_length=1, max_length=512)
    state: str = Field(min_length=1, max_length=32)
    scoping_project_id: str | None = None
    scoping_project_number: int | str | None = None
    url: str | None = None
    severity: str | None = None
    started_at: UnixSeconds | None = None
    ended_at: UnixSeconds | None = None
    summary: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    resource_display_name: str | None = None
    resource_type_display_name: str | None = None
    resource: Resource | None = None
    metric: Metric | None = None
    metadata: Metadata | None = None
    policy_name: str | None = None
    policy_user_labels: dict[str, str] = Field(default_factory=dict)
    condition_name: str | None = None
    condition: Condition | None = None
    threshold_value: str | float | None = None
    observed_value: str | float | None = None
    documentation: Documentation | str | None = None

    @field_validator("state")
    @classmethod
    def _lower(cls, value: str) -> str:
        state = value.strip().lower()
        if not state:
            raise ValueError("must not be blank")
        return state

    @field_validator("policy_user_labels", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def closed(self) -> bool:
        return self.state == "closed"


class WebhookPayload(_Lenient):
    """The whole body Monitoring POSTs: ``{"version": "1.2", "incident": {...}}``."""

    version: str = "1.2"
    incident: Incident

    @field_validator("version", mode="before")
    @classmethod
    def _any_version(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


def incident_labels(incident: Incident) -> dict[str, str]:
    """The routable labels of an incident (see the module docstring for precedence)."""
    labels: dict[str, str] = {}
    if incident.resource:
        labels.update(incident.resource.labels)
    if incident.metric:
        labels.update(incident.metric.labels)
    if incident.metadata:
        labels.update(incident.metadata.system_labels)
        labels.update(incident.metadata.user_labels)
    labels.update(incident.policy_user_labels)
    severity = (incident.severity or NO_SEVERITY).strip().lower()
    if severity != NO_SEVERITY or "severity" not in labels:
        labels["severity"] = severity
    condition = incident.condition_name or (
        incident.condition.displayName if incident.condition else None
    )
    if condition:
        labels["condition"] = condition
    if incident.resource and incident.resource.type:
        labels["resource_type"] = incident.resource.type
    labels["alertname"] = incident.policy_name or "CloudMonitoringIncident"
    labels["incident_id"] = incident.incident_id
    labels["state"] = incident.state
    if "" in labels or "" in labels.values():  # an empty name or value is no label
        return {name: value for name, value in labels.items() if name and value != ""}
    return labels


def incident_annotations(incident: Incident) -> dict[str, str]:
    annotations: dict[str, str] = {}
    if incident.summary:
        annotations["summary"] = incident.summary
    documentation = incident.documentation
    if isinstance(documentation, str) and documentation:
        annotations["documentation"] = documentation
    elif isinstance(documentation, Documentation):
        if documentation.content:
            annotations["documentation"] = documentation.content
        if documentation.subject:
            annotations["documentation_subject"] = documentation.subject
    if incident.url:
        annotations["url"] = incident.url
    for name in ("observed_value", "threshold_value"):
        value = getattr(incident, name)
        if value is not None:
            annotations[name] = str(value)
    return annotations


INCIDENT_PREFIX = "cm"
"""Starts every incident's fingerprint: Alertmanager's are 16 hex digits and never do."""


def incident_fingerprint(incident_id: str) -> str:
    """One alert per incident: the fingerprint depends on the id only, so the close (whose
    labels say ``state="closed"`` and may be fewer) updates the alert the open created.

    Namespaced by source: an Alertmanager alert posted with the labels ``{incident_id: X}``
    hashes to ``legacy_incident_fingerprint(X)``, and must stay another alert than incident X.
    """
    return INCIDENT_PREFIX + legacy_incident_fingerprint(incident_id)


def legacy_incident_fingerprint(incident_id: str) -> str:
    """The fingerprint routers before the namespacing gave an incident (what an Alertmanager
    alert labelled ``{incident_id: X}`` gets): ``store.create_schema`` renames stored ones."""
    return one_label_fingerprint("incident_id", incident_id)


def incident_alert(incident: Incident, now: float) -> Alert:
    """The alert for one incident event. A closed incident has ended (at ``ended_at``, or now)."""
    starts_at = incident.started_at or now
    ends_at = min(incident.ended_at or now, now) if incident.closed else None
    return Alert(
        fingerprint=incident_fingerprint(incident.incident_id),
        labels=incident_labels(incident),
        annotations=incident_annotations(incident),
        starts_at=starts_at,
        ends_at=ends_at,
        updated_at=now,
        generator_url=incident.url or "",
        incident_id=incident.incident_id,
        incident_state=incident.state,
    )
