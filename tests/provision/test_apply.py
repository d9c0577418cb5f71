"""Plan, apply, drift and destroy against the emulator process, through the real clients.

Calls are counted client-side by ``CallCounter`` around every API method the provisioner
uses (gRPC clients and the dashboards' REST calls alike).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.cloud.monitoring_v3.types import AlertPolicy

from observability import gcp
from observability.gcp import Endpoint
from observability.provision.api import Api, CallCounter
from observability.provision.apply import apply_plan, destroy_plan
from observability.provision.plan import plan_from_api, read_live
from observability.provision.source import Variables
from observability.provision.spec import KEY_LABEL, Kind, Layout, load_spec
from tests.provision.conftest import CONFORMANCE, default_spec

pytestmark = pytest.mark.integration


@pytest.fixture
def api(emulator: Endpoint, project: str) -> Iterator[Api]:
    client = Api(project, emulator, CallCounter(), attempts=2, max_wait=0.1)
    yield client
    client.close()


_READ_VERBS = ("/Get", "/List", "GET ")


def _emulator_writes(emulator: Endpoint) -> dict[str, int]:
    """Calls the emulator has served that are not reads, by method (all tests together)."""
    calls = httpx.get(f"{emulator.http_url}/v1/emulator/calls", timeout=10).json()
    every = {**calls["grpc"], **calls["http"]}
    return {
        method: count
        for method, count in every.items()
        if not any(verb in method for verb in _READ_VERBS)
    }


def _fresh(api: Api) -> Api:
    api.counter.reads.clear()
    api.counter.writes.clear()
    return api


def test_apply_is_idempotent_minimal_and_destroy_spares_what_is_not_ours(
    api: Api, emulator: Endpoint, project: str
) -> None:
    spec = default_spec(project)
    first = plan_from_api(spec, api)
    assert first.counts()["create"] == len(spec) == 29
    result = apply_plan(first, api)
    assert result.ok, result.failed
    assert api.counter.total_writes == 29

    # A second apply makes no writing call at all: counted here and at the emulator, which
    # sees every call whoever makes it.
    before = _emulator_writes(emulator)
    second = plan_from_api(spec, _fresh(api))
    assert second.counts()["unchanged"] == 29 and not second.has_changes
    assert apply_plan(second, api).ok
    assert api.counter.total_writes == 0
    assert api.counter.total_reads == 4  # one list per kind
    assert _emulator_writes(emulator) == before

    # Policies name the router channel by its resource name.
    live = read_live(api)
    channel = live.by_kind["channel"][0]["name"]
    assert all(p["notificationChannels"] == [channel] for p in live.by_kind["policy"])

    # A changed threshold is exactly one update, of that field.
    changed = default_spec(project, TASK_FAILURE_SPIKE_THRESHOLD="25")
    third = plan_from_api(changed, _fresh(api))
    updates = [c for c in third.changes if c.action != "unchanged"]
    assert [(c.kind, c.key, c.action) for c in updates] == [
        ("policy", "task_failure_spike", "update")
    ]
    paths = {d.path for d in updates[0].diffs}
    assert "conditions[0].conditionThreshold.thresholdValue" in paths
    assert apply_plan(third, api).ok
    assert dict(api.counter.writes) == {"policy.update_alert_policy": 1}
    assert not plan_from_api(changed, _fresh(api)).has_changes

    # Hand-made resources: never updated, never deleted.
    policies = gcp.alert_policy_api(emulator)
    hand_policy = policies.create_alert_policy(
        name=f"projects/{project}",
        alert_policy=AlertPolicy(
            display_name="Airflow DAG failed",  # even the same display name as ours
            combiner=AlertPolicy.ConditionCombinerType.OR,
            conditions=[
                AlertPolicy.Condition(
                    display_name="hand",
                    condition_threshold=AlertPolicy.Condition.MetricThreshold(
                        filter='metric.type="composer.googleapis.com/environment/healthy"',
                        comparison="COMPARISON_LT",
                        threshold_value=1,
                    ),
                )
            ],
        ),
    )
    with httpx.Client(base_url=str(emulator.http_url)) as http:
        hand_dash = http.post(
            f"/v1/projects/{project}/dashboards",
            json={"displayName": "hand made", "mosaicLayout": {"columns": 12, "tiles": []}},
        ).json()
        assert "name" in hand_dash
        # Pruning with a spec that has no dashboards deletes only our two.
        no_dash = default_spec(project, TASK_FAILURE_SPIKE_THRESHOLD="25")
        no_dash.dashboards = []
        pruned = plan_from_api(no_dash, _fresh(api), prune=True)
        deletes = [c for c in pruned.changes if c.action == "delete"]
        assert sorted(c.key for c in deletes) == ["composer_overview", "composer_team"]
        assert apply_plan(pruned, api).ok
        assert api.counter.total_writes == 2

        destroy = destroy_plan(read_live(_fresh(api)))
        assert len(destroy.changes) == 27
        assert apply_plan(destroy, api).ok
        assert api.counter.total_writes == 27
        after = read_live(api)
        assert [p["name"] for p in after.by_kind["policy"]] == [hand_policy.name]
        assert [d["name"] for d in after.by_kind["dashboard"]] == [hand_dash["name"]]
        assert after.by_kind["metric"] == [] and after.by_kind["channel"] == []
    policies.transport.close()


def test_a_hand_made_metric_of_the_same_name_is_a_conflict(api: Api, emulator: Endpoint) -> None:
    from google.cloud.logging_v2.types import LogMetric

    metrics = gcp.metrics_api(emulator)
    metrics.create_log_metric(
        parent=f"projects/{api.project}",
        metric=LogMetric(name="composer_obs/task_failures", filter='jsonPayload.x="y"'),
    )
    spec = default_spec(api.project)
    plan = plan_from_api(spec, api)
    conflicts = [c for c in plan.changes if c.action == "conflict"]
    assert [c.key for c in conflicts] == ["composer_obs/task_failures"]
    assert apply_plan(plan, _fresh(api)).ok
    assert api.counter.total_writes == len(spec) - 1
    live = {m["name"]: m for m in read_live(api).by_kind["metric"]}
    assert live["composer_obs/task_failures"]["filter"] == 'jsonPayload.x="y"'
    metrics.transport.close()


def test_drift_of_a_live_field_is_reported_and_repaired(api: Api) -> None:
    spec = default_spec(api.project)
    assert apply_plan(plan_from_api(spec, api), api).ok
    live = read_live(api)
    dashboard = next(d for d in live.by_kind["dashboard"] if "overview" in d["displayName"])
    dashboard["displayName"] = "edited in the console"
    api.update("dashboard", dashboard["name"], dashboard, dashboard["etag"])
    plan = plan_from_api(spec, _fresh(api))
    assert plan.drifted
    [change] = [c for c in plan.changes if c.action == "update"]
    assert change.kind == "dashboard"
    assert [d.path for d in change.diffs] == ["displayName"]
    assert apply_plan(plan, api).ok
    assert dict(api.counter.writes) == {"dashboard.update_dashboard": 1}
    assert not plan_from_api(spec, api).drifted


def test_conformance_dashboards_apply_and_read_back_unchanged(api: Api) -> None:
    layout = Layout.under(Path("/nonexistent"))
    layout.dashboards = CONFORMANCE
    spec = load_spec(layout, Variables.load(environ={}))
    result = apply_plan(plan_from_api(spec, api), api)
    assert result.ok, result.failed[:3]
    live = {d["labels"]["composer-obs-key"]: d for d in read_live(api).by_kind["dashboard"]}
    assert len(live) == len(spec.dashboards)
    for resource in spec.dashboards:
        got: dict[str, Any] = dict(live[resource.key])
        got.pop("name"), got.pop("etag")
        assert json.dumps(got, sort_keys=True) == json.dumps(resource.body, sort_keys=True), (
            resource.source.file
        )
    assert not plan_from_api(spec, _fresh(api)).has_changes
    assert api.counter.total_writes == 0


def test_an_apply_interrupted_half_way_converges_when_run_again(api: Api) -> None:
    spec = default_spec(api.project)

    class Interrupted(Exception):
        pass

    steps = []

    def stop_after_ten(change: object) -> None:
        steps.append(change)
        if len(steps) == 10:
            raise Interrupted

    with pytest.raises(Interrupted):
        apply_plan(plan_from_api(spec, api), api, stop_after_ten)
    rest = plan_from_api(spec, _fresh(api))
    assert rest.counts()["create"] == len(spec) - 10 and rest.counts()["unchanged"] == 10
    assert apply_plan(rest, api).ok
    assert api.counter.total_writes == len(spec) - 10
    assert not plan_from_api(spec, api).has_changes


def test_keys_once_spelled_with_dashes_are_relabelled_in_place(api: Api) -> None:
    """What an older version created (the backstop and watchdog policies' keys had dashes, a
    dashboard's key came from its file name the same way) is the same resource under the
    underscored key: the plan says so and apply relabels it, keeping its id and history,
    instead of creating a second policy beside it (and paging twice)."""
    spec = default_spec(api.project)
    assert apply_plan(plan_from_api(spec, api), api).ok
    live = read_live(api)
    former: dict[str, str] = {}  # resource name -> key with dashes
    kinds: tuple[tuple[Kind, str], ...] = (("policy", "userLabels"), ("dashboard", "labels"))
    for kind, labels in kinds:
        for item in live.by_kind[kind]:
            key = item[labels][KEY_LABEL]
            if "_" in key and (kind == "dashboard" or key.startswith(("composer_", "dag_i"))):
                item[labels][KEY_LABEL] = key.replace("_", "-")
                former[item["name"]] = item[labels][KEY_LABEL]
                api.update(kind, item["name"], item, str(item.get("etag", "")))
    assert len(former) >= 8

    plan = plan_from_api(spec, _fresh(api), prune=True)
    renamed = [c for c in plan.changes if c.name in former]
    assert len(renamed) == len(former)
    for change in renamed:
        assert change.action == "update" and change.key == former[str(change.name)].replace(
            "-", "_"
        )
        assert change.note.startswith(f"renamed from {former[str(change.name)]}: the same ")
        assert [(d.before, d.after) for d in change.diffs if d.path.endswith(KEY_LABEL)] == [
            (former[str(change.name)], change.key)
        ]
    assert plan.counts()["create"] == plan.counts()["delete"] == 0

    assert apply_plan(plan, api).ok
    after = read_live(api)
    names = {item["name"] for kind in ("policy", "dashboard") for item in after.by_kind[kind]}
    assert set(former) <= names  # the same resources, not new ones
    assert not plan_from_api(spec, api, prune=True).drifted
