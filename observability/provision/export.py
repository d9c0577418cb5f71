"""The same resources as Terraform (HCL): ``google_logging_metric``,
``google_monitoring_notification_channel``, ``google_monitoring_alert_policy`` (channels by
reference) and ``google_monitoring_dashboard`` (``dashboard_json``, the raw JSON).

The API's camelCase JSON maps onto the provider's schema mechanically: fields become
snake_case, objects become nested blocks, lists of objects repeated blocks, and the maps
(``labels``, ``user_labels``, ``label_extractors``) attributes.

The output is meant to be committed, so no credential is written into it: a channel's secret
labels (``password``, ``auth_token``, ``service_key``) and the router's ingest token in a
webhook URL (``?auth_token=``) become sensitive Terraform variables (``var.router_token``),
declared at the top, to be set with ``TF_VAR_<name>``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from observability.provision.plan import SECRET_LABELS, canonical
from observability.provision.spec import KEY_LABEL, Resource, Spec

_MAPS = frozenset({"userLabels", "labels", "labelExtractors"})
_DROP = frozenset({"name"})
_URL_TOKEN = re.compile(r"([?&]auth_token=)([^&#]+)")
_VARIABLE = "\x00{}\x00"
"""Where a variable goes in a string: a mark that ``hcl_string`` escapes predictably."""
ROUTER_TOKEN_VARIABLE = "router_token"
RESPELLED_DEFAULT_POLICIES = (
    "composer_environment_unhealthy",
    "composer_scheduler_heartbeat_missing",
    "composer_killed_tasks",
    "composer_dag_parse_errors",
    "composer_worker_pod_evictions",
    "dag_import_error",
    "airflow_task_stuck_or_late",
    "critical_dag_stuck_or_late",
)
"""Default policies whose keys (and so Terraform names) were spelled with dashes until
2026-12: an export says Terraform ``moved`` them, so a state made from an older export keeps
each policy (and its incidents) instead of destroying it and creating a new one."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def hcl_string(text: str) -> str:
    """A quoted HCL string: JSON escapes, and template sequences made literal."""
    return json.dumps(text, ensure_ascii=False).replace("${", "$${").replace("%{", "%%{")


def _ident(key: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_-]+", "_", key).strip("_") or "r"
    return ident if ident[0].isalpha() or ident[0] == "_" else "r_" + ident


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return hcl_string(str(value))


def _attr_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{hcl_string(str(k))} = {_scalar(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    return _scalar(value)


def _body(data: dict[str, Any], indent: int) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    for key, value in data.items():
        if key in _DROP:
            continue
        name = _snake(key)
        if isinstance(value, dict) and key not in _MAPS:
            lines.append(f"{pad}{name} {{")
            lines.extend(_body(value, indent + 1))
            lines.append(f"{pad}}}")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                lines.append(f"{pad}{name} {{")
                lines.extend(_body(item, indent + 1))
                lines.append(f"{pad}}}")
        else:
            lines.append(f"{pad}{name} = {_attr_value(value)}")
    return lines


def _resource(kind: str, ident: str, lines: list[str]) -> str:
    return "\n".join([f'resource "{kind}" "{ident}" {{', *lines, "}", ""])


def _without_secrets(ident: str, body: dict[str, Any], variables: dict[str, str]) -> None:
    """Replace a channel's secret label values by variables (named in ``variables``)."""
    labels = body.get("labels")
    if not isinstance(labels, dict):
        return
    for label, value in labels.items():
        if not isinstance(value, str) or not value:
            continue
        if label in SECRET_LABELS:
            name = f"{ident}_{label}".replace("-", "_")
            variables[name] = f"the {label} of notification channel {ident}"
            labels[label] = _VARIABLE.format(name)
        elif _URL_TOKEN.search(value):
            variables[ROUTER_TOKEN_VARIABLE] = (
                "the router's ingest token (COMPOSER_OBS_ROUTER_TOKEN)"
            )
            labels[label] = _URL_TOKEN.sub(
                lambda m: m.group(1) + _VARIABLE.format(ROUTER_TOKEN_VARIABLE), value
            )


def _variable(name: str, description: str) -> str:
    return "\n".join(
        [
            f'variable "{name}" {{',
            f"  description = {hcl_string(description + f'; set it with TF_VAR_{name}')}",
            "  type        = string",
            "  sensitive   = true",
            "}",
            "",
        ]
    )


def _interpolated(text: str) -> str:
    """The HCL with each variable mark turned into ``${var.NAME}``."""
    return re.sub(r"\\u0000([A-Za-z0-9_]+)\\u0000", r"${var.\1}", text)


def export_hcl(spec: Spec, project: str) -> str:
    """Terraform for every resource of ``spec``, credentials as sensitive variables."""
    head = [
        "# Generated by composer-obs provision export. Edit the definitions, not this file.",
        "",
    ]
    out: list[str] = []
    variables: dict[str, str] = {}
    channel_ids = {c.key: _ident(c.key) for c in spec.channels}
    for metric in spec.metrics:
        body = canonical("metric", metric.body)
        lines = [f"  project = {hcl_string(project)}", f"  name = {hcl_string(metric.key)}"]
        out.append(_resource("google_logging_metric", _ident(metric.key), lines + _body(body, 1)))
    for channel in spec.channels:
        body = canonical("channel", channel.body)
        _without_secrets(channel_ids[channel.key], body, variables)
        lines = [f"  project = {hcl_string(project)}", *_body(body, 1)]
        out.append(
            _resource("google_monitoring_notification_channel", channel_ids[channel.key], lines)
        )
    for policy in spec.policies:
        out.append(_policy(policy, project, channel_ids))
    for dashboard in spec.dashboards:
        text = json.dumps(dashboard.body, ensure_ascii=False, sort_keys=True)
        lines = [f"  project = {hcl_string(project)}", f"  dashboard_json = {hcl_string(text)}"]
        out.append(_resource("google_monitoring_dashboard", _ident(dashboard.key), lines))
    head += [_variable(name, description) for name, description in sorted(variables.items())]
    return _interpolated("\n".join(head + out))


def exported_variables(text: str) -> list[str]:
    """The variables an export declares: what the user must set before ``terraform apply``."""
    return re.findall(r'^variable "([^"]+)"', text, flags=re.M)


def _policy(policy: Resource, project: str, channel_ids: dict[str, str]) -> str:
    refs = policy.body.get("notificationChannels") or []
    body = dict(policy.body)
    body.pop("notificationChannels", None)
    body = canonical("policy", body)
    lines = [f"  project = {hcl_string(project)}"]
    if refs:
        names = [
            f"google_monitoring_notification_channel.{channel_ids[r]}.id"
            if r in channel_ids
            else hcl_string(str(r))
            for r in refs
        ]
        lines.append(f"  notification_channels = [{', '.join(names)}]")
    ident = _ident(body.get("userLabels", {}).get(KEY_LABEL, policy.key))
    block = _resource("google_monitoring_alert_policy", ident, lines + _body(body, 1))
    if ident not in RESPELLED_DEFAULT_POLICIES:
        return block
    kind = "google_monitoring_alert_policy"
    former = ident.replace("_", "-")
    return block + f"moved {{\n  from = {kind}.{former}\n  to = {kind}.{ident}\n}}\n"
