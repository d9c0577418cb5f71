"""AlertPolicyService through the real google-cloud-monitoring client against the emulator
process: round-trip of every condition kind, list filters/order/pages, updates with field
masks and the condition-by-name rules, delete, and data kept across a restart."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud.monitoring_v3 import AlertPolicyServiceClient
from google.cloud.monitoring_v3.types import AlertPolicy, NotificationChannel
from google.protobuf import field_mask_pb2, json_format

from observability import gcp
from observability.emulator.process import emulator_process

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[2] / "fixtures" / "alert_policies"
SERVER_SET = ("name", "creationRecord", "mutationRecord")


def as_dict(policy: AlertPolicy) -> dict[str, Any]:
    return json_format.MessageToDict(AlertPolicy.pb(policy))


def without_server_fields(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for key in SERVER_SET:
        body.pop(key, None)
    for condition in body.get("conditions", []):
        condition.pop("name", None)
    return body


def from_dict(body: dict[str, Any]) -> AlertPolicy:
    return AlertPolicy.from_json(json.dumps(body))


def threshold_policy(name: str = "Composer task failures", **extra: Any) -> dict[str, Any]:
    return {
        "displayName": name,
        "userLabels": {"managed-by": "composer-observability", "team": "data"},
        "combiner": "OR",
        "conditions": [
            {
                "displayName": "failures by dag",
                "conditionThreshold": {
                    "filter": 'resource.type="cloud_composer_environment" AND '
                    'metric.type="logging.googleapis.com/user/composer_obs/task_failures"',
                    "aggregations": [
                        {
                            "alignmentPeriod": "300s",
                            "perSeriesAligner": "ALIGN_DELTA",
                            "crossSeriesReducer": "REDUCE_SUM",
                            "groupByFields": ["metric.label.dag_id"],
                        }
                    ],
                    "comparison": "COMPARISON_GT",
                    "thresholdValue": 0,
                    "duration": "0s",
                    "trigger": {"count": 1},
                },
            }
        ],
        **extra,
    }


SQL_POLICY = {
    "displayName": "SQL: failed tasks",
    "conditions": [
        {
            "displayName": "rows with failures",
            "conditionSql": {
                "query": "SELECT timestamp FROM `p.global._Default._AllLogs` "
                "WHERE severity = 'ERROR'",
                "minutes": {"periodicity": 10},
                "rowCountTest": {"comparison": "COMPARISON_GT", "threshold": "0"},
            },
        }
    ],
    "combiner": "OR",
}


def fixture_bodies() -> list[tuple[str, dict[str, Any]]]:
    out = [(path.stem, json.loads(path.read_text())) for path in sorted(FIXTURES.glob("*.json"))]
    out.append(("sql", SQL_POLICY))
    out.append(
        (
            "composer-full",
            threshold_policy(
                documentation={
                    "content": "DAG ${metric.label.dag_id} failed in ${project}",
                    "mimeType": "text/markdown",
                    "subject": "[${policy.display_name}] failure",
                    "links": [{"displayName": "runbook", "url": "https://example.com/rb"}],
                },
                severity="ERROR",
                alertStrategy={
                    "autoClose": "1800s",
                    "notificationPrompts": ["OPENED", "CLOSED"],
                },
            ),
        )
    )
    return out


@pytest.mark.parametrize(("label", "body"), fixture_bodies(), ids=[b[0] for b in fixture_bodies()])
def test_every_condition_kind_round_trips(
    policies: AlertPolicyServiceClient, project: str, label: str, body: dict[str, Any]
) -> None:
    sent = from_dict(body)
    created = policies.create_alert_policy(name=f"projects/{project}", alert_policy=sent)
    assert created.name.startswith(f"projects/{project}/alertPolicies/")
    assert created.creation_record.mutate_time
    assert created.mutation_record.mutate_time
    for condition in created.conditions:
        assert condition.name.startswith(created.name + "/conditions/")
    fetched = policies.get_alert_policy(name=created.name)
    assert as_dict(fetched) == as_dict(created)
    expected = as_dict(sent)
    expected.setdefault("enabled", True)
    assert without_server_fields(as_dict(fetched)) == expected


def test_get_and_delete_missing_are_not_found(
    policies: AlertPolicyServiceClient, project: str
) -> None:
    missing = f"projects/{project}/alertPolicies/123"
    with pytest.raises(exceptions.NotFound):
        policies.get_alert_policy(name=missing)
    with pytest.raises(exceptions.NotFound):
        policies.delete_alert_policy(name=missing)
    with pytest.raises(exceptions.InvalidArgument, match="alertPolicies"):
        policies.get_alert_policy(name=f"projects/{project}/policies/1")


def test_delete(policies: AlertPolicyServiceClient, project: str) -> None:
    created = policies.create_alert_policy(
        name=f"projects/{project}", alert_policy=from_dict(threshold_policy())
    )
    policies.delete_alert_policy(name=created.name)
    with pytest.raises(exceptions.NotFound):
        policies.get_alert_policy(name=created.name)


def test_list_filter_order_and_pages(policies: AlertPolicyServiceClient, project: str) -> None:
    parent = f"projects/{project}"
    for name, managed in (("b-policy", True), ("a-policy", True), ("c-policy", False)):
        body = threshold_policy(name)
        if not managed:
            body["userLabels"] = {"team": "other"}
        policies.create_alert_policy(name=parent, alert_policy=from_dict(body))

    def names(**kw: Any) -> list[str]:
        request = {"name": parent, **kw}
        return [p.display_name for p in policies.list_alert_policies(request=request)]

    assert names() == ["b-policy", "a-policy", "c-policy"]  # creation order
    managed_filter = 'user_labels."managed-by"="composer-observability"'
    assert sorted(names(filter=managed_filter)) == ["a-policy", "b-policy"]
    assert names(
        filter="user_label.managed-by = composer-observability", order_by="display_name"
    ) == [
        "a-policy",
        "b-policy",
    ]
    assert names(order_by="-display_name") == ["c-policy", "b-policy", "a-policy"]
    assert names(filter='display_name = starts_with("c")') == ["c-policy"]
    assert names(filter='NOT display_name:"policy"') == []
    assert names(filter="conditions.count = 1 AND user_labels.team = other") == ["c-policy"]
    # Page by page through the pager, one per page.
    pager = policies.list_alert_policies(
        request={"name": parent, "page_size": 1, "order_by": "display_name"}
    )
    assert [p.display_name for p in pager] == ["a-policy", "b-policy", "c-policy"]
    first = policies.list_alert_policies(
        request={"name": parent, "page_size": 2, "order_by": "display_name"}
    )
    response = next(iter(first.pages))
    assert len(response.alert_policies) == 2 and response.next_page_token
    assert response.total_size == 3
    with pytest.raises(exceptions.InvalidArgument, match="unknown field"):
        names(filter='no_such_field = "x"')
    with pytest.raises(exceptions.InvalidArgument, match="position"):
        names(filter='display_name = "x" AND (')


def test_update_without_mask_replaces_and_keeps_named_conditions(
    policies: AlertPolicyServiceClient, project: str
) -> None:
    body = threshold_policy()
    second = copy.deepcopy(body["conditions"][0])
    second["displayName"] = "second"
    body["conditions"].append(second)
    created = policies.create_alert_policy(name=f"projects/{project}", alert_policy=from_dict(body))
    kept, dropped = created.conditions
    replacement = as_dict(created)
    replacement["displayName"] = "renamed"
    new_kept = copy.deepcopy(replacement["conditions"][0])
    new_kept["conditionThreshold"]["thresholdValue"] = 5
    added = copy.deepcopy(new_kept)
    added.pop("name")
    added["displayName"] = "added"
    replacement["conditions"] = [new_kept, added]
    updated = policies.update_alert_policy(alert_policy=from_dict(replacement))
    assert updated.display_name == "renamed"
    assert [c.display_name for c in updated.conditions] == ["failures by dag", "added"]
    assert updated.conditions[0].name == kept.name
    assert updated.conditions[0].condition_threshold.threshold_value == 5
    assert updated.conditions[1].name not in (kept.name, dropped.name)
    assert updated.conditions[1].name.startswith(created.name + "/conditions/")
    assert updated.creation_record == created.creation_record
    assert updated.name == created.name
    assert policies.get_alert_policy(name=created.name) == updated


def test_update_with_mask_changes_only_listed_fields(
    policies: AlertPolicyServiceClient, project: str
) -> None:
    body = threshold_policy(documentation={"content": "old", "mimeType": "text/markdown"})
    created = policies.create_alert_policy(name=f"projects/{project}", alert_policy=from_dict(body))
    patch = AlertPolicy(
        name=created.name,
        display_name="new name",
        documentation={"content": "new", "mime_type": "text/markdown"},
        user_labels={"team": "platform"},
        combiner=AlertPolicy.ConditionCombinerType.AND,
    )
    updated = policies.update_alert_policy(
        alert_policy=patch,
        update_mask=field_mask_pb2.FieldMask(
            paths=["display_name", "documentation.content", "user_label.team"]
        ),
    )
    assert updated.display_name == "new name"
    assert updated.documentation.content == "new"
    assert updated.user_labels == {"managed-by": "composer-observability", "team": "platform"}
    assert updated.combiner == AlertPolicy.ConditionCombinerType.OR  # not in the mask
    assert [c.name for c in updated.conditions] == [c.name for c in created.conditions]
    # A masked field missing from the supplied policy is cleared.
    cleared = policies.update_alert_policy(
        alert_policy=AlertPolicy(name=created.name),
        update_mask=field_mask_pb2.FieldMask(paths=["documentation", "user_labels"]),
    )
    assert "documentation" not in as_dict(cleared)
    assert not cleared.user_labels
    # enabled=false through a mask sticks.
    disabled = policies.update_alert_policy(
        alert_policy=AlertPolicy(name=created.name, enabled=False),
        update_mask=field_mask_pb2.FieldMask(paths=["enabled"]),
    )
    assert disabled.enabled is False
    assert policies.get_alert_policy(name=created.name).enabled is False


def test_update_conditions_by_mask_follows_name_rules(
    policies: AlertPolicyServiceClient, project: str
) -> None:
    body = threshold_policy()
    body["conditions"].append({**copy.deepcopy(body["conditions"][0]), "displayName": "two"})
    created = policies.create_alert_policy(name=f"projects/{project}", alert_policy=from_dict(body))
    first = AlertPolicy.Condition.pb(created.conditions[0])
    changed = AlertPolicy.Condition.wrap(copy.deepcopy(first))
    changed.display_name = "first, changed"
    fresh = AlertPolicy.Condition.wrap(copy.deepcopy(first))
    fresh.name = ""
    fresh.display_name = "fresh"
    updated = policies.update_alert_policy(
        alert_policy=AlertPolicy(name=created.name, conditions=[changed, fresh]),
        update_mask=field_mask_pb2.FieldMask(paths=["conditions"]),
    )
    assert [c.display_name for c in updated.conditions] == ["first, changed", "fresh"]
    assert updated.conditions[0].name == created.conditions[0].name
    assert created.conditions[1].name not in [c.name for c in updated.conditions]
    # A name the policy never had is refused, naming the field.
    stranger = AlertPolicy.Condition.wrap(copy.deepcopy(first))
    stranger.name = created.name + "/conditions/999"
    with pytest.raises(exceptions.InvalidArgument, match=r"conditions\[0\]\.name"):
        policies.update_alert_policy(
            alert_policy=AlertPolicy(name=created.name, conditions=[stranger]),
            update_mask=field_mask_pb2.FieldMask(paths=["conditions"]),
        )
    with pytest.raises(exceptions.InvalidArgument, match="update_mask"):
        policies.update_alert_policy(
            alert_policy=AlertPolicy(name=created.name),
            update_mask=field_mask_pb2.FieldMask(paths=["no_such_field"]),
        )
    # An update that breaks a rule is refused and changes nothing.
    with pytest.raises(exceptions.InvalidArgument, match="conditions"):
        policies.update_alert_policy(
            alert_policy=AlertPolicy(name=created.name),
            update_mask=field_mask_pb2.FieldMask(paths=["conditions"]),
        )
    assert policies.get_alert_policy(name=created.name) == updated


def test_update_missing_policy_is_not_found(
    policies: AlertPolicyServiceClient, project: str
) -> None:
    body = threshold_policy()
    body["name"] = f"projects/{project}/alertPolicies/42"
    with pytest.raises(exceptions.NotFound):
        policies.update_alert_policy(alert_policy=from_dict(body))
    with pytest.raises(exceptions.NotFound):
        policies.update_alert_policy(
            request={
                "alert_policy": {"name": body["name"]},
                "update_mask": {"paths": ["display_name"]},
            }
        )


def test_missing_policy_as_googles_system_test_pins_it(
    policies: AlertPolicyServiceClient, project: str
) -> None:
    """The "inside" cases of python-monitoring tests/system/test_vpcsc_v3.py: updating a
    missing policy with a body holding only its name is INVALID_ARGUMENT (the body is
    checked first); get and delete are NOT_FOUND; creating an empty policy is invalid."""
    name = policies.alert_policy_path(project, "mock_alert_policy")

    with pytest.raises(exceptions.InvalidArgument):
        policies.update_alert_policy(request={"alert_policy": {"name": name}})
    with pytest.raises(exceptions.NotFound):
        policies.get_alert_policy(request={"name": name})
    with pytest.raises(exceptions.NotFound):
        policies.delete_alert_policy(request={"name": name})
    with pytest.raises(exceptions.InvalidArgument):
        policies.create_alert_policy(request={"name": f"projects/{project}", "alert_policy": {}})
    created = policies.create_alert_policy(
        name=f"projects/{project}", alert_policy=from_dict(threshold_policy())
    )
    with pytest.raises(exceptions.InvalidArgument):  # an existing one: the same answer
        policies.update_alert_policy(request={"alert_policy": {"name": created.name}})


def test_restart_keeps_policies_and_channels(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with emulator_process(data) as endpoint:
        pc = gcp.alert_policy_api(endpoint)
        cc = gcp.notification_channel_api(endpoint)
        channel = cc.create_notification_channel(
            name="projects/keep",
            notification_channel=NotificationChannel(
                type_="webhook_basicauth",
                display_name="router",
                labels={"url": "http://127.0.0.1:9/hook", "username": "u", "password": "s3cret-pw"},
            ),
        )
        body = threshold_policy()
        body["notificationChannels"] = [channel.name]
        created = pc.create_alert_policy(name="projects/keep", alert_policy=from_dict(body))
        pc.transport.close()
        cc.transport.close()
    with emulator_process(data) as endpoint:
        pc = gcp.alert_policy_api(endpoint)
        cc = gcp.notification_channel_api(endpoint)
        assert pc.get_alert_policy(name=created.name) == created
        assert cc.get_notification_channel(name=channel.name) == channel
        pc.transport.close()
        cc.transport.close()
