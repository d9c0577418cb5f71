"""The default set and every public sample dashboard pass validate, offline."""

from __future__ import annotations

from observability.provision.source import Variables
from observability.provision.spec import KEY_LABEL, MANAGED_LABEL, Layout, Spec, load_spec
from observability.provision.validate import validate_spec
from tests.provision.conftest import CONFORMANCE, ROOT


def test_default_set_is_valid(spec: Spec) -> None:
    report = validate_spec(spec)
    assert report.errors == []
    assert report.warnings == []
    names = {m.key for m in spec.metrics}
    assert {
        "composer_obs/task_failures",
        "composer_obs/task_retries",
        "composer_obs/task_successes",
        "composer_obs/task_duration",
        "composer_obs/dag_run_failures",
        "composer_obs/dag_run_successes",
        "composer_obs/dag_run_duration",
        "composer_obs/third_party_calls",
        "composer_obs/third_party_latency",
    } <= names
    assert len(spec.policies) == 14
    assert {d.key for d in spec.dashboards} == {"composer_overview", "composer_team"}
    assert [c.key for c in spec.channels] == ["router"]


def test_every_policy_is_documented_labelled_and_routed(spec: Spec) -> None:
    for policy in spec.policies:
        body = policy.body
        assert body["severity"] in ("CRITICAL", "ERROR", "WARNING"), policy.key
        labels = body["userLabels"]
        assert labels["severity"] == body["severity"].lower()
        grouped_by = {
            field
            for condition in body["conditions"]
            for kind in ("conditionThreshold", "conditionAbsent")
            for aggregation in condition.get(kind, {}).get("aggregations", [])
            for field in aggregation.get("groupByFields", [])
        }
        # routable: a team (the DAG's own from the metric, else the policy's) and the
        # environment, which inhibition (equal: [environment_name]) relies on
        assert ("metric.label.team" in grouped_by) != ("team" in labels), policy.key
        assert labels.get("team", "platform") == "platform"
        assert "resource.label.environment_name" in grouped_by, policy.key
        assert labels[MANAGED_LABEL] == "composer-observability"
        assert labels[KEY_LABEL] == policy.key
        assert body["documentation"]["content"].strip()
        assert body["notificationChannels"] == ["router"]
    by_key = {p.key: p.body for p in spec.policies}
    dag_failed = by_key["dag_run_failed"]["conditions"][0]["conditionThreshold"]
    assert "metric.label.dag_id" in dag_failed["aggregations"][0]["groupByFields"]
    assert "${metric.label.dag_id}" in by_key["dag_run_failed"]["documentation"]["content"]
    assert (
        "denominatorFilter"
        in by_key["third_party_error_ratio"]["conditions"][0]["conditionThreshold"]
    )
    assert "conditionAbsent" in by_key["critical_dag_stale"]["conditions"][0]


def test_thresholds_and_team_come_from_variables() -> None:
    from tests.provision.conftest import default_spec

    spec = default_spec(TASK_FAILURE_SPIKE_THRESHOLD="25", TEAM="data")
    spike = next(p for p in spec.policies if p.key == "task_failure_spike")
    assert spike.body["conditions"][0]["conditionThreshold"]["thresholdValue"] == "25"
    assert spike.body["userLabels"]["team"] == "data"
    assert validate_spec(spec).ok


def test_router_channel_is_skipped_without_a_router_url() -> None:
    spec = load_spec(Layout.under(ROOT), Variables.load(environ={}, fallbacks={"PROJECT": "p"}))
    assert spec.channels == []
    assert all(
        "notificationChannels" not in p.body or not p.body["notificationChannels"]
        for p in spec.policies
    )
    assert validate_spec(spec).ok


def test_every_conformance_dashboard_is_valid() -> None:
    layout = Layout.under(ROOT / "nonexistent")
    layout.dashboards = CONFORMANCE
    spec = load_spec(layout, Variables.load(environ={}))
    # The whole corpus beside the repository (CI always has it), else the copied fixtures.
    assert len(spec.dashboards) == len(list(CONFORMANCE.rglob("*.json")))
    assert len(spec.dashboards) >= 5
    report = validate_spec(spec)
    assert report.errors == []
