"""The webhook payload Monitoring sends (schema "1.2") and the documentation variables.

``incident_payload`` builds ``{"version": "1.2", "incident": {...}}`` from an incident and its
policy exactly as the reference lists the fields; ``expand_documentation`` resolves
``${policy.display_name}``, ``${policy.user_label.KEY}``, ``${metric.label.KEY}``,
``${resource.label.KEY}``, ``${condition.display_name}``, ``${log.extracted_label.KEY}`` and
``${project}``, with ``$${`` as a literal ``${``. An unknown variable is left as written.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from observability.emulator.alerting.incidents import Incident

_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}")


def expand_documentation(text: str, variables: dict[str, str]) -> str:
    """``text`` with each ``${name}`` replaced by ``variables[name]`` (``$${`` -> ``${``)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name = match.group(1).strip()
        return variables.get(name, match.group(0))

    return _VARIABLE.sub(replace, text)


def documentation_variables(
    project: str, policy: dict[str, Any], condition: dict[str, Any], detail: dict[str, Any]
) -> dict[str, str]:
    """Every variable the documentation of this incident may use."""
    variables = {
        "project": project,
        "policy.display_name": str(policy.get("displayName", "")),
        "condition.display_name": str(condition.get("displayName", "")),
    }
    for prefix, labels in (
        ("policy.user_label.", policy.get("userLabels") or {}),
        ("metric.label.", detail.get("metric", {}).get("labels") or {}),
        ("resource.label.", detail.get("resource", {}).get("labels") or {}),
        ("log.extracted_label.", detail.get("extracted_labels") or {}),
    ):
        for key, value in labels.items():
            variables[prefix + key] = str(value)
    return variables


def project_number(project: str) -> str:
    """A stable fake project number (the emulator has no resource manager)."""
    return str(100_000_000_000 + zlib.crc32(project.encode()) % 900_000_000_000)


def _epoch(value: float | None) -> int | None:
    return None if value is None else int(value)


def incident_payload(
    incident: Incident, policy: dict[str, Any], console_url: str = ""
) -> dict[str, Any]:
    """The schema 1.2 webhook body for ``incident`` in its current state."""
    detail = incident.detail
    condition = detail.get("condition") or {}
    project = incident.project
    resource = detail.get("resource") or {"type": "", "labels": {}}
    metric = detail.get("metric") or {"type": "", "displayName": "", "labels": {}}
    docs = policy.get("documentation") or {}
    variables = documentation_variables(project, policy, condition, detail)
    severity = str(policy.get("severity") or "").lower()
    if severity in ("", "severity_unspecified"):
        severity = "no severity"
    resource_labels = resource.get("labels") or {}
    resource_name = " ".join(
        [project, resource.get("type", "")] + [f"{k}={v}" for k, v in resource_labels.items()]
    ).strip()
    url = console_url or (
        f"https://console.cloud.google.com/monitoring/alerting/incidents/{incident.id}"
        f"?project={project}"
    )
    body: dict[str, Any] = {
        "incident_id": incident.id,
        "scoping_project_id": project,
        "scoping_project_number": project_number(project),
        "url": url,
        "severity": severity,
        "started_at": _epoch(incident.started_at),
        "ended_at": _epoch(incident.ended_at),
        "state": incident.state,
        "summary": (
            detail.get("summary_closed") or detail.get("summary", "")
            if incident.state == "closed"
            else detail.get("summary", "")
        ),
        "observed_value": detail.get("observed_value"),
        "resource_id": "",
        "resource_name": resource_name,
        "resource_display_name": resource_labels.get("environment_name")
        or resource_labels.get("workflow_name")
        or project,
        "resource_type_display_name": resource.get("type", ""),
        "resource": {"type": resource.get("type", ""), "labels": dict(resource_labels)},
        "metric": {
            "type": metric.get("type", ""),
            "displayName": metric.get("displayName", ""),
            "labels": dict(metric.get("labels") or {}),
        },
        "metadata": {"system_labels": {}, "user_labels": {}},
        "policy_name": policy.get("displayName", ""),
        "policy_user_labels": dict(policy.get("userLabels") or {}),
        "condition_name": condition.get("displayName", ""),
        "condition": condition,
        "threshold_value": detail.get("threshold_value"),
        "documentation": {
            "content": expand_documentation(str(docs.get("content", "")), variables),
            "mime_type": docs.get("mimeType", "text/markdown"),
            "subject": expand_documentation(str(docs.get("subject", "")), variables),
            "links": [
                {
                    "displayName": link.get("displayName", ""),
                    "url": expand_documentation(str(link.get("url", "")), variables),
                }
                for link in docs.get("links") or []
            ],
        },
    }
    # Log-match incidents carry no metric values (the reference: "may be absent").
    for optional in ("observed_value", "threshold_value"):
        if body[optional] is None:
            del body[optional]
    return {"version": "1.2", "incident": body}
