"""NotificationChannelService through the real client against the emulator process:
descriptors, CRUD, required labels, obfuscation of secrets, delete with and without force,
verification; and the in-process accessor that gives the notifier the real secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud.monitoring_v3 import AlertPolicyServiceClient, NotificationChannelServiceClient
from google.cloud.monitoring_v3.types import (
    AlertPolicy,
    CreateNotificationChannelRequest,
    GetNotificationChannelRequest,
    NotificationChannel,
    UpdateNotificationChannelRequest,
)
from google.protobuf import field_mask_pb2

from observability.emulator.alert_policies.store import AlertPolicyStore
from observability.emulator.channels.model import obfuscate
from observability.emulator.channels.service import NotificationChannelService
from observability.emulator.channels.store import NotificationChannelStore

TYPES = {
    "email": {"email_address"},
    "slack": {"channel_name", "auth_token", "team"},
    "pagerduty": {"service_key"},
    "google_chat": {"space"},
    "pubsub": {"topic"},
    "sms": {"number"},
    "webhook_tokenauth": {"url"},
    "webhook_basicauth": {"url", "username", "password"},
}
BASIC = {
    "url": "https://router.example.com/hook",
    "username": "monitoring",
    "password": "pa55word-xyz1",
}


def make(
    client: NotificationChannelServiceClient,
    project: str,
    type_: str,
    labels: dict[str, str],
    **kw: Any,
) -> NotificationChannel:
    return client.create_notification_channel(
        name=f"projects/{project}",
        notification_channel=NotificationChannel(type_=type_, labels=labels, **kw),
    )


@pytest.mark.integration
def test_descriptors(channels: NotificationChannelServiceClient, project: str) -> None:
    found = {
        d.type_: {label.key for label in d.labels}
        for d in channels.list_notification_channel_descriptors(name=f"projects/{project}")
    }
    assert found == TYPES
    one = channels.get_notification_channel_descriptor(
        name=f"projects/{project}/notificationChannelDescriptors/webhook_basicauth"
    )
    assert one.type_ == "webhook_basicauth" and one.display_name
    with pytest.raises(exceptions.NotFound):
        channels.get_notification_channel_descriptor(
            name=f"projects/{project}/notificationChannelDescriptors/carrier_pigeon"
        )


@pytest.mark.integration
def test_crud_and_obfuscation(channels: NotificationChannelServiceClient, project: str) -> None:
    created = make(
        channels,
        project,
        "webhook_basicauth",
        BASIC,
        display_name="router",
        user_labels={"managed-by": "composer-observability"},
    )
    assert created.name.startswith(f"projects/{project}/notificationChannels/")
    assert created.labels["password"] == obfuscate(BASIC["password"])
    assert created.labels["password"].endswith("xyz1") and "pa55" not in created.labels["password"]
    assert created.labels["url"] == BASIC["url"] and created.labels["username"] == "monitoring"
    assert created.enabled is True and created.creation_record.mutate_time
    fetched = channels.get_notification_channel(name=created.name)
    assert fetched == created
    # Read-modify-write with the obfuscated secret, then a masked update.
    fetched.display_name = "router (renamed)"
    updated = channels.update_notification_channel(notification_channel=fetched)
    assert updated.display_name == "router (renamed)"
    assert updated.labels["password"] == obfuscate(BASIC["password"])
    assert len(updated.mutation_records) == 1
    disabled = channels.update_notification_channel(
        notification_channel=NotificationChannel(name=created.name, enabled=False),
        update_mask=field_mask_pb2.FieldMask(paths=["enabled"]),
    )
    assert disabled.enabled is False and disabled.display_name == "router (renamed)"
    with pytest.raises(exceptions.InvalidArgument, match="type"):
        channels.update_notification_channel(
            notification_channel=NotificationChannel(
                name=created.name, type_="email", labels={"email_address": "a@b.c"}
            )
        )
    channels.delete_notification_channel(name=created.name)
    with pytest.raises(exceptions.NotFound):
        channels.get_notification_channel(name=created.name)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("type_", "labels", "refusal"),
    [
        ("email", {}, r"labels\['email_address'\] is required"),
        ("email", {"email_address": "not-an-address"}, r"email_address"),
        ("email", {"address": "a@b.c"}, r"not a label of channel type email"),
        ("webhook_basicauth", {"url": BASIC["url"], "username": "u"}, r"labels\['password'\]"),
        ("webhook_tokenauth", {"url": "ftp://x"}, r"labels\['url'\]"),
        ("pubsub", {"topic": "alerts"}, r"projects/P/topics/T"),
        ("sms", {"number": "555-0100"}, r"E\.164"),
        ("carrier_pigeon", {}, r"notification_channel\.type"),
        ("", {}, r"notification_channel\.type is required"),
    ],
)
def test_refusals(
    channels: NotificationChannelServiceClient,
    project: str,
    type_: str,
    labels: dict[str, str],
    refusal: str,
) -> None:
    with pytest.raises(exceptions.InvalidArgument, match=refusal):
        make(channels, project, type_, labels)


@pytest.mark.integration
def test_every_type_accepted(channels: NotificationChannelServiceClient, project: str) -> None:
    valid = {
        "email": {"email_address": "oncall@example.com"},
        "slack": {"channel_name": "#alerts", "auth_token": "xoxb-0000-1111-secret"},
        "pagerduty": {"service_key": "0123456789abcdef0123"},
        "google_chat": {"space": "spaces/AAAA1234"},
        "pubsub": {"topic": f"projects/{project}/topics/alerts"},
        "sms": {"number": "+15555550100"},
        "webhook_tokenauth": {"url": "http://127.0.0.1:8000/hook?token=abc"},
        "webhook_basicauth": BASIC,
    }
    for type_, labels in valid.items():
        created = make(channels, project, type_, labels, display_name=type_)
        status = NotificationChannel.VerificationStatus
        expected = status.UNVERIFIED if type_ == "sms" else status.VERIFICATION_STATUS_UNSPECIFIED
        assert created.verification_status == expected
    listed = list(
        channels.list_notification_channels(
            request={"name": f"projects/{project}", "order_by": "display_name", "page_size": 3}
        )
    )
    assert [c.display_name for c in listed] == sorted(valid)
    emails = channels.list_notification_channels(
        request={"name": f"projects/{project}", "filter": 'type="email"'}
    )
    assert [c.type_ for c in emails] == ["email"]
    pagerduty = next(
        iter(
            channels.list_notification_channels(
                request={"name": f"projects/{project}", "filter": 'type="pagerduty"'}
            )
        )
    )
    assert pagerduty.labels["service_key"] == obfuscate("0123456789abcdef0123")


@pytest.mark.integration
def test_verification(channels: NotificationChannelServiceClient, project: str) -> None:
    sms = make(channels, project, "sms", {"number": "+15555550100"})
    channels.send_notification_channel_verification_code(name=sms.name)
    code = channels.get_notification_channel_verification_code(name=sms.name).code
    with pytest.raises(exceptions.InvalidArgument, match="code"):
        channels.verify_notification_channel(name=sms.name, code="G-000000x")
    verified = channels.verify_notification_channel(name=sms.name, code=code)
    assert verified.verification_status == NotificationChannel.VerificationStatus.VERIFIED


@pytest.mark.integration
def test_delete_in_use_needs_force(
    channels: NotificationChannelServiceClient, policies: AlertPolicyServiceClient, project: str
) -> None:
    channel = make(channels, project, "email", {"email_address": "a@example.com"})
    body = {
        "displayName": "uses the channel",
        "combiner": "OR",
        "notificationChannels": [channel.name],
        "conditions": [
            {
                "displayName": "c",
                "conditionThreshold": {
                    "filter": 'metric.type="logging.googleapis.com/user/x"',
                    "comparison": "COMPARISON_GT",
                },
            }
        ],
    }
    policy = policies.create_alert_policy(
        name=f"projects/{project}", alert_policy=AlertPolicy.from_json(json.dumps(body))
    )
    with pytest.raises(exceptions.FailedPrecondition, match="force"):
        channels.delete_notification_channel(name=channel.name)
    channels.delete_notification_channel(name=channel.name, force=True)
    assert list(policies.get_alert_policy(name=policy.name).notification_channels) == []


def test_in_process_accessor_gives_real_secrets(tmp_path: Path) -> None:
    store = NotificationChannelStore(tmp_path / "notification_channels.db")
    policy_store = AlertPolicyStore(tmp_path / "alert_policies.db")
    service = NotificationChannelService(store, policy_store)
    request = CreateNotificationChannelRequest(
        name="projects/p",
        notification_channel=NotificationChannel(type_="webhook_basicauth", labels=BASIC),
    )
    shown = service.create(CreateNotificationChannelRequest.pb(request))
    assert shown.labels["password"] != BASIC["password"]
    stored = store.get_channel(shown.name)
    assert stored is not None
    assert stored.labels == BASIC and stored.type == "webhook_basicauth" and stored.enabled
    # Writing back the obfuscated value keeps the secret; a new value replaces it.
    read = service.get(
        GetNotificationChannelRequest.pb(GetNotificationChannelRequest(name=shown.name))
    )
    update = UpdateNotificationChannelRequest.pb(UpdateNotificationChannelRequest())
    update.notification_channel.CopyFrom(read)
    service.update(update)
    assert store.channels([shown.name])[0].labels["password"] == BASIC["password"]
    update.notification_channel.labels["password"] = "new-secret-1234"
    service.update(update)
    assert store.list_channels("p")[0].labels["password"] == "new-secret-1234"
    store.close()
    policy_store.close()


@pytest.mark.integration
def test_missing_channel_as_googles_system_test_pins_it(
    channels: NotificationChannelServiceClient, project: str
) -> None:
    """The "inside" cases of python-monitoring tests/system/test_vpcsc_v3.py: updating a
    missing channel with a body holding only its name is INVALID_ARGUMENT (the body is
    checked first); with a valid body or a mask, and every call by name, NOT_FOUND."""
    name = channels.notification_channel_path(project, "mock_notification_channel")
    valid = {"name": name, "type_": "webhook_basicauth", "labels": BASIC}

    with pytest.raises(exceptions.InvalidArgument):
        channels.update_notification_channel(request={"notification_channel": {"name": name}})
    with pytest.raises(exceptions.NotFound):
        channels.update_notification_channel(request={"notification_channel": valid})
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
