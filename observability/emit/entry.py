"""Turning an event into a Cloud Logging entry: the one place that fixes the entry's shape.

Log-based metrics, dashboards and the emulator's tests all select on what this module writes:
the log name, the monitored resource, the entry labels and the severity. Redaction and
truncation happen here too, so that nothing leaves the process (to Cloud Logging or to the
spool) before both have run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

from observability.emit.truncate import cap_text, fit_payload
from observability.events import Event
from observability.exceptions import exception_info
from observability.redact import redact_text

if TYPE_CHECKING:
    from observability.gcp import Endpoint
    from observability.settings import Settings

_log = logging.getLogger("composer_observability")

_ENVELOPE_BYTES = 16 * 1024

ENTRY_LABEL_FIELDS = ("event_type", "dag_id", "task_id", "run_id", "try_number")
"""Event fields copied into entry labels, so they can be filtered on without the payload."""


@dataclass(frozen=True)
class EntryTarget:
    """Where entries go: fixed for the life of a process."""

    project_id: str
    log_name: str
    location: str | None = None
    environment_name: str | None = None

    @property
    def log_path(self) -> str:
        return f"projects/{self.project_id}/logs/{quote(self.log_name, safe='')}"

    @property
    def resource(self) -> dict[str, Any]:
        """``cloud_composer_environment`` on Composer, ``global`` anywhere else."""
        if self.location and self.environment_name:
            return {
                "type": "cloud_composer_environment",
                "labels": {
                    "project_id": self.project_id,
                    "location": self.location,
                    "environment_name": self.environment_name,
                },
            }
        return {"type": "global", "labels": {"project_id": self.project_id}}


def _redacted(node: Any, limit: int, path: str, cut: list[str], chars: list[int]) -> Any:
    """The payload with every string redacted, strings over ``limit`` cut first: they could
    not be sent whole anyway, and redacting a megabyte costs far more than cutting it.
    ``chars`` accumulates the string length seen, to skip the exact size check when small."""
    if isinstance(node, str):
        if len(node) > limit:
            node = cap_text(node, limit)
            cut.append(path)
        chars[0] += len(node)
        return redact_text(node)
    if isinstance(node, dict):
        return {
            key: _redacted(value, limit, f"{path}.{key}" if path else key, cut, chars)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [
            _redacted(value, limit, f"{path}.{index}", cut, chars)
            for index, value in enumerate(node)
        ]
    return node


def entry_target(settings: Settings, endpoint: Endpoint) -> EntryTarget:
    """Where the settings send entries; without a project, a placeholder that says so."""
    from observability.gcp import project_id

    try:
        project = project_id(settings, endpoint)
    except Exception as exc:  # noqa: BLE001 - no project yet: spooled entries say so
        _log.warning("composer-observability: no project id (%s); events will spool", exc)
        project = "unknown-project"
    return EntryTarget(
        project_id=project,
        log_name=settings.log_name,
        location=settings.location,
        environment_name=settings.environment_name,
    )


def as_event(item: Event | Mapping[str, Any]) -> Event:
    """Validate callback fields into the schema. A field that fails validation (a bug, or an
    odd value from a future Airflow) is dropped and named in ``schema_errors``, rather than
    costing the whole event."""
    if isinstance(item, Event):
        return item
    fields = dict(item)
    if fields.get("exception") is not None:
        fields["exception"] = exception_info(fields["exception"])
    try:
        return Event.model_validate(fields)
    except ValidationError as exc:
        bad = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
        kept = {key: value for key, value in fields.items() if key not in bad}
        event = Event.model_validate(kept)
        event.labels = {**event.labels, "schema_errors": ",".join(bad)}
        return event


def to_entry(
    item: Event | Mapping[str, Any], target: EntryTarget, max_bytes: int
) -> dict[str, Any]:
    """The LogEntry (REST JSON shape) for one event: validated, redacted, within ``max_bytes``."""
    event = as_event(item)
    cut: list[str] = []
    chars = [0]
    payload = _redacted(event.payload(), max_bytes, "", cut, chars)
    if payload.get("project_id") is None:
        payload["project_id"] = target.project_id
    labels = {
        field: str(payload[field]) for field in ENTRY_LABEL_FIELDS if payload.get(field) is not None
    }
    entry: dict[str, Any] = {
        "logName": target.log_path,
        "resource": target.resource,
        "severity": event.severity,
        "insertId": event.event_id,
        "timestamp": payload["timestamp"],
        "labels": labels,
        "jsonPayload": payload,
    }
    # A character is at most 4 bytes of UTF-8 (6 as a JSON escape); keys, numbers and the
    # envelope stay far below 16 KiB. Below that bound the exact (costly) measure is skipped.
    if chars[0] * 6 + _ENVELOPE_BYTES > max_bytes:
        cut.extend(fit_payload(entry, "jsonPayload", max_bytes))
    if cut:
        payload["truncated"] = sorted(set(payload.get("truncated", [])) | set(cut))
    return entry
