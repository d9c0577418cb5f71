"""Updating an alert policy or a notification channel that does not exist, as Google's own
system tests (python-monitoring tests/system/test_vpcsc_v3.py, the "inside" cases) pin it
down: a body holding only the name is INVALID_ARGUMENT (the body is checked before the name
is looked up); a body that would be valid, or an update mask, gets NOT_FOUND; get and delete
of a missing one are NOT_FOUND."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud.monitoring_v3 import AlertPolicyServiceClient, NotificationChannelServiceClient

from observability import gcp
from observability.gcp import Endpoint

pytestmark = pytest.mark.integration

THRESHOLD = {
    "display_name": "errors",
    "combiner": "OR",
    "conditions": [
        {
            "display_name": "any",
            "condition_threshold": {
                "filter": 'metric.type="logging.googleapis.com/user/x" AND resource.type="global"',
                "comparison": "COMPARISON_GT",
                "duration": {"seconds": 0},
            },
        }
    ],
}
WEBHOOK = {"type_": "webhook_tokenauth", "labels": {"url": "https://example.com/hook"}}


@pytest.fixture(scope="module")
def policies(emulator: Endpoint) -> Iterator[AlertPolicyServiceClient]:
    client = gcp.alert_policy_api(emulator)
    yield client
    client.transport.close()


@pytest.fixture(scope="module")
def channels(emulator: Endpoint) -> Iterator[NotificationChannelServiceClient]:
    client = gcp.notification_channel_api(emulator)
    yield client
    client.transport.close()


def test_alert_policy_missing(policies: AlertPolicyServiceClient, project: str) -> None:
    name = policies.alert_policy_path(project, "mock_alert_policy")

    with pytest.raises(exceptions.InvalidArgument):
        policies.update_alert_policy(request={"alert_policy": {"name": name}})
    with pytest.raises(exceptions.NotFound):
        policies.update_alert_policy(request={"alert_policy": {"name": name, **THRESHOLD}})
    with pytest.raises(exceptions.NotFound):
        policies.update_alert_policy(
            request={"alert_policy": {"name": name}, "update_mask": {"paths": ["display_name"]}}
        )
    with pytest.raises(exceptions.NotFound):
        policies.get_alert_policy(request={"name": name})
    with pytest.raises(exceptions.NotFound):
        policies.delete_alert_policy(request={"name": name})
    with pytest.raises(exceptions.InvalidArgument):
        policies.create_alert_policy(request={"name": f"projects/{project}", "alert_policy": {}})


def test_alert_policy_existing_with_only_its_name_is_invalid(
    policies: AlertPolicyServiceClient, project: str
) -> None:
    created = policies.create_alert_policy(
        request={"name": f"projects/{project}", "alert_policy": THRESHOLD}
    )
    with pytest.raises(exceptions.InvalidArgument):
        policies.update_alert_policy(request={"alert_policy": {"name": created.name}})
    assert policies.get_alert_policy(name=created.name).display_name == "errors"


def test_notification_channel_missing(
    channels: NotificationChannelServiceClient, project: str
) -> None:
    name = channels.notification_channel_path(project, "mock_notification_channel")
    body: dict[str, Any] = {"name": name, **WEBHOOK}

    with pytest.raises(exceptions.InvalidArgument):
        channels.update_notification_channel(request={"notification_channel": {"name": name}})
    with pytest.raises(exceptions.NotFound):
        channels.update_notification_channel(request={"notification_channel": body})
    with pytest.raises(exceptions.NotFound):
        channels.update_notification_channel(
            request={"notification_channel": {"name": name}, "update_mask": {"paths": ["labels"]}}
        )
    for call in (
        channels.get_notification_channel,
        channels.delete_notification_channel,
        channels.get_notification_channel_verification_code,
        channels.send_notification_channel_verification_code,
    ):
        with pytest.raises(exceptions.NotFound):
            call(request={"name": name})
    with pytest.raises(exceptions.NotFound):
        channels.verify_notification_channel(request={"name": name, "code": ""})
    with pytest.raises(exceptions.InvalidArgument):
        channels.create_notification_channel(
            request={"name": f"projects/{project}", "notification_channel": {}}
        )
