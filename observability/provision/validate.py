"""Offline checks of a Spec: every refusal the APIs would make, before any call.

The rules are the emulator's (the same code that refuses a bad request there): LogMetric
validation, AlertPolicy validation and dashboard validation, on the definitions' JSON, plus
the cross-references only the whole set can check: every ``logging.googleapis.com/user/NAME``
a policy or dashboard names under our prefix is defined, and every ``metric.label.KEY`` it
groups or filters by is declared by that metric. Problems come back as DefinitionErrors
naming file, line and key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format

from observability.provision.source import DefinitionError, Path_
from observability.provision.spec import (
    OUR_METRIC_PREFIX,
    USER_METRIC_PREFIX,
    Resource,
    Spec,
)

_USER_METRIC = re.compile(
    r'metric\.type\s*=\s*"?' + re.escape(USER_METRIC_PREFIX) + r'([^"\s)]+)"?'
)
_METRIC_LABEL = re.compile(r"metric\.labels?\.([A-Za-z_][A-Za-z0-9_]*)")
_FIELD_IN_MESSAGE = re.compile(r"^(?:Field )?([a-z_][\w.\[\]-]*?)(?::| had | is )")
_SEGMENT = re.compile(r"([A-Za-z_][\w-]*)|\[([^\]]*)\]")


@dataclass
class Report:
    errors: list[DefinitionError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def api_path(message: str, root: str) -> Path_:
    """The JSON path a refusal names (``alert_policy.conditions[1].condition_absent.duration``
    -> ``("conditions", 1, "conditionAbsent", "duration")``), best effort."""
    match = _FIELD_IN_MESSAGE.match(message)
    if not match:
        return ()
    text = match.group(1)
    if text.startswith(root + "."):
        text = text[len(root) + 1 :]
    elif text == root:
        return ()
    out: list[str | int] = []
    for name, index in _SEGMENT.findall(text):
        if name:
            out.append(_camel(name))
        elif index.isdigit():
            out.append(int(index))
        else:
            out.append(index)
    return tuple(out)


def _refusal(resource: Resource, message: str, root: str) -> DefinitionError:
    return resource.source.error(api_path(message, root), message)


def _parse(resource: Resource, message_type: Any, body: dict[str, Any]) -> Any | None:
    pb = message_type.pb()()
    try:
        return json_format.ParseDict(body, pb)
    except json_format.ParseError as exc:
        text = str(exc)
        path: Path_ = ()
        at = re.search(r'at "\w+\.([^"]+)"', text)
        found = re.search(r'field named "([^"]+)"|Failed to parse (\w+) field', text)
        if at:
            path = tuple(
                name if name else int(index) if index.isdigit() else index
                for name, index in _SEGMENT.findall(at.group(1))
            )
            unknown = re.search(r'has no field named "([^"]+)"', text)
            if unknown:
                path = (*path, unknown.group(1))
        elif found:
            name = found.group(1) or found.group(2)
            path = _find_key(body, name) or ()
        raise resource.source.error(path, text) from exc


def _find_key(value: Any, name: str, path: Path_ = ()) -> Path_ | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == name or _camel(key) == _camel(name):
                return (*path, key)
            found = _find_key(item, name, (*path, key))
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _find_key(item, name, (*path, i))
            if found:
                return found
    return None


def _check_metric(resource: Resource) -> None:
    from google.cloud.logging_v2.types import LogMetric

    from observability.emulator.common.errors import ApiError
    from observability.emulator.log_metrics.model import validate

    pb = _parse(resource, LogMetric, resource.body)
    try:
        validate(pb)
    except ApiError as exc:
        raise _refusal(resource, exc.message, "metric") from exc


def _policy_body(resource: Resource) -> dict[str, Any]:
    body = dict(resource.body)
    if "notificationChannels" in body:
        body["notificationChannels"] = [
            ref if str(ref).startswith("projects/") else f"projects/p/notificationChannels/{ref}"
            for ref in body["notificationChannels"]
        ]
    return body


def _check_policy(resource: Resource) -> None:
    from google.cloud.monitoring_v3.types import AlertPolicy

    from observability.emulator.alert_policies.validation import validate_policy
    from observability.emulator.common.errors import ApiError

    pb = _parse(resource, AlertPolicy, _policy_body(resource))
    try:
        validate_policy(pb)
    except ApiError as exc:
        raise _refusal(resource, exc.message, "alert_policy") from exc


def _check_channel(resource: Resource) -> None:
    from google.cloud.monitoring_v3.types import NotificationChannel

    from observability.emulator.common.errors import ApiError
    from observability.emulator.common.validation import check_user_labels

    pb = _parse(resource, NotificationChannel, resource.body)
    assert pb is not None
    try:
        check_user_labels(pb.user_labels, "notification_channel.user_labels")
    except ApiError as exc:
        raise _refusal(resource, exc.message, "notification_channel") from exc


def _check_dashboard(resource: Resource) -> None:
    from observability.emulator.common.errors import ApiError
    from observability.emulator.dashboards.validate import validate_dashboard

    try:
        validate_dashboard(resource.body)
    except ApiError as exc:
        message = exc.message
        path_text = message.split(": ", 1)[0] if ": " in message else ""
        path: list[str | int] = []
        for name, index in _SEGMENT.findall(path_text):
            path.append(name if name else int(index) if index.isdigit() else index)
        raise resource.source.error(tuple(path), message) from exc


def _strings(value: Any, path: Path_ = ()) -> list[tuple[Path_, str]]:
    """Every filter-like string in a body, with its path."""
    out: list[tuple[Path_, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_strings(item, (*path, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_strings(item, (*path, i)))
    elif isinstance(value, str) and "metric.type" in value:
        out.append((path, value))
    return out


def _check_references(resource: Resource, metrics: dict[str, set[str]], report: Report) -> None:
    for path, text in _strings(resource.body):
        for name in _USER_METRIC.findall(text):
            if name in metrics:
                labels = metrics[name]
                # Labels named in this filter and in the sibling aggregations' groupByFields.
                used = set(_METRIC_LABEL.findall(text))
                node: Any = resource.body
                for part in path[:-1]:
                    node = node[part]
                if isinstance(node, dict):
                    aggs = [*list(node.get("aggregations") or []), node.get("aggregation") or {}]
                    for agg in aggs:
                        for group in agg.get("groupByFields", []) if isinstance(agg, dict) else []:
                            used.update(_METRIC_LABEL.findall(group))
                for label in sorted(used - labels):
                    report.errors.append(
                        resource.source.error(
                            path,
                            f"metric {name!r} declares no label {label!r} "
                            f"(it has: {', '.join(sorted(labels)) or 'none'})",
                        )
                    )
            elif name.startswith(OUR_METRIC_PREFIX):
                report.errors.append(
                    resource.source.error(path, f"metric {USER_METRIC_PREFIX}{name} is not defined")
                )
            else:
                report.warnings.append(
                    f"{resource.where}: {USER_METRIC_PREFIX}{name} is not defined here "
                    "(it must exist in the project)"
                )


def validate_spec(spec: Spec) -> Report:
    """Every problem in the spec (not only the first)."""
    report = Report()
    checks = {
        "metric": _check_metric,
        "channel": _check_channel,
        "policy": _check_policy,
        "dashboard": _check_dashboard,
    }
    for resource in spec.all():
        try:
            checks[resource.kind](resource)
        except DefinitionError as exc:
            report.errors.append(exc)
    metrics = {
        m.key: {
            str(label.get("key"))
            for label in (m.body.get("metricDescriptor") or {}).get("labels", [])
            if isinstance(label, dict)
        }
        for m in spec.metrics
    }
    for resource in spec.policies + spec.dashboards:
        _check_references(resource, metrics, report)
    return report
