"""Export as Terraform: the output parses with a real HCL parser and holds every resource."""

from __future__ import annotations

import json
from typing import Any

import hcl2

from observability.provision.export import export_hcl, hcl_string
from observability.provision.spec import Spec


def _resources(text: str) -> dict[str, dict[str, Any]]:
    parsed = hcl2.loads(text)
    out: dict[str, dict[str, Any]] = {}
    for block in parsed["resource"]:
        for kind, named in block.items():
            for name, body in named.items():
                out[f"{kind.strip(chr(34))}.{name.strip(chr(34))}"] = body
    return out


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return json.loads(value.replace("$${", "${").replace("%%{", "%{"))
    return value


def test_export_parses_as_hcl_with_every_resource(spec: Spec) -> None:
    text = export_hcl(spec, "test-project")
    resources = _resources(text)
    kinds = [key.split(".")[0] for key in resources]
    assert kinds.count("google_logging_metric") == len(spec.metrics)
    assert kinds.count("google_monitoring_notification_channel") == 1
    assert kinds.count("google_monitoring_alert_policy") == len(spec.policies)
    assert kinds.count("google_monitoring_dashboard") == len(spec.dashboards)

    metric = resources["google_logging_metric.composer_obs_task_duration"]
    assert _unquote(metric["name"]) == "composer_obs/task_duration"
    assert "metric_descriptor" in metric and "bucket_options" in metric

    policy = resources["google_monitoring_alert_policy.dag_run_failed"]
    assert "google_monitoring_notification_channel.router.id" in str(
        policy["notification_channels"]
    )
    content = _unquote(policy["documentation"][0]["content"])
    assert "${metric.label.dag_id}" in content  # kept for Monitoring, not Terraform

    dashboard = resources["google_monitoring_dashboard.composer_overview"]
    body = json.loads(_unquote(dashboard["dashboard_json"]))
    assert body == next(d.body for d in spec.dashboards if d.key == "composer_overview")


def test_hcl_strings_escape_templates() -> None:
    assert hcl_string('a "${x}" %{y}\n') == '"a \\"$${x}\\" %%{y}\\n"'


def test_policies_once_named_with_dashes_are_moved_not_replaced(spec: Spec) -> None:
    """A Terraform state made from an older export names eight default policies with dashes:
    ``moved`` blocks keep those policies (and their incidents) under the new names."""
    parsed = hcl2.loads(export_hcl(spec, "test-project"))
    moves = {block["from"].strip("${}"): block["to"].strip("${}") for block in parsed["moved"]}
    kind = "google_monitoring_alert_policy"
    assert len(moves) == 8
    assert moves[f"{kind}.composer-environment-unhealthy"] == (
        f"{kind}.composer_environment_unhealthy"
    )
    policies = {key for key in _resources(export_hcl(spec, "p")) if key.startswith(kind)}
    assert set(moves.values()) <= policies
    assert not any("-" in key for key in policies)
