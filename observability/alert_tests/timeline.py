"""A test's timeline as Cloud Logging entries and metric points, each due some seconds after
the start.

Events become entries through ``observability.emit.entry.to_entry``, the function the
callbacks' emitter uses, so a test writes exactly what a callback would: same log name,
monitored resource, labels, severity and redaction. Raw ``log_entry`` items are written as
given, with the test's log name and resource filled in when absent (a short ``logName`` such
as ``airflow-worker`` becomes that log of the test's project). Metric points become
``TimeSeries`` (the REST JSON of ``projects.timeSeries.create``) on the environment's
``cloud_composer_environment`` resource; a DELTA point covers the second before it, a
CUMULATIVE one counts from the test's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from observability.alert_tests.spec import (
    Environment,
    MetricPoint,
    TestCase,
    TimelineItem,
    relative_offsets,
)
from observability.emit.entry import EntryTarget, to_entry
from observability.events import Event

LOG_NAME = "composer-observability"
MAX_ENTRY_BYTES = 256 * 1024


@dataclass(frozen=True)
class Write:
    """One log entry, or one time series with one point, written ``offset`` s after the start
    (an entry's own timestamp is earlier when its item ``arrives_after`` a lag), from timeline
    item number ``item``."""

    offset: float
    item: int
    entry: dict[str, Any] | None = None
    series: dict[str, Any] | None = None


def _rfc3339(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _target(project: str, environment: Environment) -> EntryTarget:
    return EntryTarget(project, LOG_NAME, environment.location, environment.name)


def _raw_entry(
    item: dict[str, Any], target: EntryTarget, when: datetime, project: str
) -> dict[str, Any]:
    entry = dict(item)
    log_name = str(entry.get("logName") or LOG_NAME)
    if not log_name.startswith("projects/"):
        log_name = f"projects/{project}/logs/{quote(log_name, safe='')}"
    entry["logName"] = log_name
    entry.setdefault("resource", target.resource)
    entry["timestamp"] = _rfc3339(when)
    return entry


def _entry(item: TimelineItem, target: EntryTarget, when: datetime, project: str) -> dict[str, Any]:
    if item.event is not None:
        event = Event.model_validate(
            {
                "project_id": project,
                "location": target.location,
                "environment_name": target.environment_name,
                **item.event,
                "timestamp": when,
            }
        )
        return to_entry(event, target, MAX_ENTRY_BYTES)
    return _raw_entry(item.log_entry or {}, target, when, project)


def _series(
    point: MetricPoint, target: EntryTarget, when: datetime, start: datetime, item: int
) -> Write:
    interval = {"endTime": _rfc3339(when)}
    if point.kind == "DELTA":
        interval["startTime"] = _rfc3339(when - timedelta(seconds=1))
    elif point.kind == "CUMULATIVE":
        interval["startTime"] = _rfc3339(start - timedelta(seconds=1))
    if isinstance(point.value, bool):
        value: dict[str, Any] = {"boolValue": point.value}
    elif isinstance(point.value, int):
        value = {"int64Value": str(point.value)}
    else:
        value = {"doubleValue": point.value}
    series = {
        "metric": {"type": point.type, "labels": point.labels},
        "resource": target.resource,
        "metricKind": point.kind,
        "points": [{"interval": interval, "value": value}],
    }
    return Write((when - start).total_seconds(), item, series=series)


def writes(case: TestCase, project: str, environment: Environment, start: datetime) -> list[Write]:
    """Every entry of ``case``'s timeline, in time order."""
    target = _target(project, case.environment or environment)
    out: list[Write] = []
    offsets = relative_offsets(case.timeline)
    for index, (item, offset) in enumerate(zip(case.timeline, offsets, strict=True)):
        for n in range(item.count):
            when = start + timedelta(seconds=offset + n * item.every)
            if item.metric_point is not None:
                out.append(_series(item.metric_point, target, when, start, index))
            else:
                entry = _entry(item, target, when, project)
                arrival = offset + n * item.every + item.arrives_after
                out.append(Write(arrival, index, entry=entry))
    return sorted(out, key=lambda w: (w.offset, w.item))
