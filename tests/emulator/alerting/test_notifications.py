"""Notifications: the schema 1.2 payload, documentation variables, webhook token and basic auth
(401 challenge first), email through SMTP (aiosmtpd) or the mailbox file, retries with
backoff and the failures written to the notification_channel_events log."""

from __future__ import annotations

import mailbox
import socket
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from google.cloud.logging_v2.types import ListLogEntriesRequest

from observability.emulator.alerting.evaluator import event_log_writer
from observability.emulator.alerting.incidents import Incident
from observability.emulator.alerting.notifier import EVENTS_LOG_ID, DeliveryError, Notifier
from observability.emulator.alerting.payload import expand_documentation, incident_payload
from observability.emulator.channels.store import StoredChannel
from tests.emulator.alerting.receiver import webhook_receiver
from tests.emulator.alerting.test_evaluator import PROJECT, World, threshold

POLICY = {
    "displayName": "Task failures",
    "severity": "CRITICAL",
    "userLabels": {"team": "data"},
    "documentation": {
        "content": "DAG ${metric.label.dag_id} of ${policy.user_label.team} failed in "
        "${project} (${condition.display_name}, ${policy.display_name}, "
        "${resource.label.environment_name}); literal $${metric.label.dag_id}",
        "mimeType": "text/markdown",
        "subject": "[${policy.user_label.team}] ${metric.label.dag_id} failing",
        "links": [{"displayName": "runbook", "url": "https://runbooks/${metric.label.dag_id}"}],
    },
}
CONDITION = {"name": "projects/p/alertPolicies/1/conditions/2", "displayName": "failures > 0"}
DETAIL = {
    "policy": POLICY,
    "condition": CONDITION,
    "metric": {
        "type": "logging.googleapis.com/user/failures",
        "displayName": "failures",
        "labels": {"dag_id": "etl"},
    },
    "resource": {"type": "cloud_composer_environment", "labels": {"environment_name": "env1"}},
    "observed_value": "3",
    "threshold_value": "0",
    "summary": "failures is above the threshold",
    "summary_closed": "failures returned to normal.",
}


def incident(state: str = "open") -> Incident:
    return Incident(
        "0.abc",
        "proj-1",
        "1",
        CONDITION["name"],
        "k",
        state,
        1_700_000_000.4,
        None if state == "open" else 1_700_000_600.0,
        None,
        DETAIL,
    )


def channel(kind: str, **labels: str) -> StoredChannel:
    return StoredChannel("proj-1", "42", {"type": kind, "labels": labels, "enabled": True})


def test_payload_schema_1_2() -> None:
    body = incident_payload(incident(), POLICY)
    assert body["version"] == "1.2"
    got = body["incident"]
    expected_keys = {
        "incident_id", "scoping_project_id", "scoping_project_number", "url", "severity",
        "started_at", "ended_at", "state", "summary", "resource_id", "resource_name",
        "resource_display_name", "resource_type_display_name", "resource", "metric", "metadata",
        "policy_name", "policy_user_labels", "condition_name", "condition", "threshold_value",
        "observed_value", "documentation",
    }  # fmt: skip
    assert set(got) == expected_keys
    assert got["incident_id"] == "0.abc"
    assert got["scoping_project_id"] == "proj-1"
    assert got["severity"] == "critical"
    assert got["started_at"] == 1_700_000_000 and got["ended_at"] is None
    assert got["state"] == "open"
    assert got["resource"] == DETAIL["resource"]
    assert got["metric"] == DETAIL["metric"]
    assert got["metadata"] == {"system_labels": {}, "user_labels": {}}
    assert got["policy_name"] == "Task failures"
    assert got["policy_user_labels"] == {"team": "data"}
    assert got["condition_name"] == "failures > 0"
    assert got["condition"] == CONDITION
    assert (got["threshold_value"], got["observed_value"]) == ("0", "3")
    assert got["documentation"] == {
        "content": "DAG etl of data failed in proj-1 (failures > 0, Task failures, env1); "
        "literal ${metric.label.dag_id}",
        "mime_type": "text/markdown",
        "subject": "[data] etl failing",
        "links": [{"displayName": "runbook", "url": "https://runbooks/etl"}],
    }
    closed = incident_payload(incident("closed"), POLICY)["incident"]
    assert closed["incident_id"] == "0.abc"
    assert closed["state"] == "closed" and closed["ended_at"] == 1_700_000_600
    assert closed["summary"] == "failures returned to normal."


def test_no_severity_and_log_match_values_absent() -> None:
    detail = {**DETAIL, "extracted_labels": {"dag": "x"}}
    del detail["observed_value"], detail["threshold_value"]
    one = Incident("0.x", "p", "1", "c", "k", "open", 1.0, None, None, detail)
    policy = {"displayName": "log", "documentation": {"content": "${log.extracted_label.dag}"}}
    got = incident_payload(one, policy)["incident"]
    assert got["severity"] == "no severity"
    assert "observed_value" not in got and "threshold_value" not in got
    assert got["documentation"]["content"] == "x"


def test_expand_documentation_keeps_unknown_variables() -> None:
    assert expand_documentation("${nope} $${x} ${project}", {"project": "p"}) == "${nope} ${x} p"


def test_webhook_tokenauth_posts_to_the_url_with_its_token(tmp_path: Path) -> None:
    notifier = Notifier(tmp_path, lambda *a: None)
    with webhook_receiver() as receiver:
        notifier.deliver(
            channel("webhook_tokenauth", url=f"{receiver.url}/hook?token=s3cret"),
            incident_payload(incident(), POLICY),
        )
        [got] = receiver.accepted()
    assert got.path == "/hook?token=s3cret"
    assert got.authorization is None
    assert got.body["incident"]["incident_id"] == "0.abc"


def test_webhook_basicauth_answers_the_challenge(tmp_path: Path) -> None:
    notifier = Notifier(tmp_path, lambda *a: None)
    with webhook_receiver(credentials=("alice", "pw")) as receiver:
        target = channel(
            "webhook_basicauth", url=receiver.url + "/h", username="alice", password="pw"
        )
        notifier.deliver(target, incident_payload(incident(), POLICY))
        [got] = receiver.accepted()
        assert receiver.challenges == 1
        assert got.authorization == "Basic YWxpY2U6cHc="
        wrong = channel("webhook_basicauth", url=receiver.url, username="alice", password="x")
        with pytest.raises(DeliveryError, match="403"):
            notifier.deliver(wrong, incident_payload(incident(), POLICY))


def test_webhook_basicauth_without_a_challenge_is_a_failure(tmp_path: Path) -> None:
    notifier = Notifier(tmp_path, lambda *a: None)
    with webhook_receiver() as receiver:
        receiver.fail_first = 1
        target = channel("webhook_basicauth", url=receiver.url, username="a", password="b")
        with pytest.raises(DeliveryError, match="503"):
            notifier.deliver(target, incident_payload(incident(), POLICY))


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, _Inbox]]:
    inbox = _Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"127.0.0.1:{port}", inbox
    finally:
        controller.stop()


def test_email_through_smtp(tmp_path: Path, smtp_server: tuple[str, _Inbox]) -> None:
    address, inbox = smtp_server
    notifier = Notifier(tmp_path, lambda *a: None, smtp=address)
    notifier.deliver(
        channel("email", email_address="oncall@example.com"), incident_payload(incident(), POLICY)
    )
    [message] = inbox.messages
    assert message["To"] == "oncall@example.com"
    assert message["Subject"] == "[data] etl failing"
    assert message["X-Incident-Id"] == "0.abc"
    assert "DAG etl of data failed" in message.get_payload()


def test_email_to_the_mailbox_file_without_smtp(tmp_path: Path) -> None:
    notifier = Notifier(tmp_path, lambda *a: None, smtp="")
    for state in ("open", "closed"):
        notifier.deliver(
            channel("email", email_address="a@example.com"),
            incident_payload(incident(state), POLICY),
        )
    box = mailbox.mbox(tmp_path / "mailbox")
    assert [m["X-Incident-State"] for m in box] == ["open", "closed"]
    box.close()


def test_failures_are_retried_with_backoff_and_logged(tmp_path: Path) -> None:
    events: list[tuple[str, str, dict[str, Any]]] = []
    notifier = Notifier(tmp_path, lambda *a: events.append(a), base_delay=0.05, max_attempts=4)
    notifier.start()
    try:
        with webhook_receiver() as receiver:
            receiver.fail_first = 2
            started = time.monotonic()
            notifier.submit(
                channel("webhook_tokenauth", url=receiver.url), incident_payload(incident(), POLICY)
            )
            assert notifier.idle(10)
            assert len(receiver.accepted()) == 1
            assert time.monotonic() - started >= 0.05 + 0.1  # 0.05 s, then 0.1 s
    finally:
        notifier.stop()
    assert [(e[0], e[1], e[2]["attempt"], e[2]["willRetry"]) for e in events] == [
        ("proj-1", "ERROR", 1, True),
        ("proj-1", "ERROR", 2, True),
    ]
    assert "503" in events[0][2]["message"]
    assert events[0][2]["incidentId"] == "0.abc"


def test_evaluator_notifies_open_and_close_and_logs_failures_in_logging(tmp_path: Path) -> None:
    world = World(tmp_path)
    notifier = Notifier(
        tmp_path, event_log_writer(world.logging, world.clock), base_delay=0.01, max_attempts=2
    )
    world.evaluator.notifier = notifier
    notifier.start()
    try:
        with webhook_receiver(credentials=("u", "p")) as receiver:
            with world.channels.transaction() as conn:
                for cid, url in (("1", receiver.url), ("2", "http://127.0.0.1:9/closed")):
                    body = {
                        "type": "webhook_basicauth",
                        "labels": {"url": url, "username": "u", "password": "p"},
                    }
                    world.channels.put(conn, PROJECT, cid, body)
            world.metric("failures", "task_failed")
            channels = [f"projects/{PROJECT}/notificationChannels/{i}" for i in ("1", "2")]
            world.policy(
                {**POLICY, "conditions": [threshold("failures")], "notificationChannels": channels}
            )
            world.write(("task_failed", "etl"))
            world.advance(60)
            world.advance(60)
            assert notifier.idle(10)
            got = [r.body["incident"] for r in receiver.accepted()]
        request = ListLogEntriesRequest.pb()(
            resource_names=[f"projects/{PROJECT}"],
            filter='log_id("monitoring.googleapis.com/notification_channel_events")',
        )
        entries = [e.as_dict() for e in world.logging.list_entries(request).entries]
    finally:
        notifier.stop()
        world.close()
    assert [i["state"] for i in got] == ["open", "closed"]
    assert got[0]["incident_id"] == got[1]["incident_id"]
    assert got[0]["metric"]["labels"] == {"dag_id": "etl"}
    assert got[0]["documentation"]["subject"] == "[data] etl failing"
    # channel 2 refuses connections: two attempts for each of open and close, all logged
    assert {e["logName"] for e in entries} == {f"projects/{PROJECT}/logs/{EVENTS_LOG_ID}"}
    assert len(entries) == 4
    assert {e["jsonPayload"]["notificationChannel"] for e in entries} == {channels[1]}
    assert all(e["severity"] == "ERROR" for e in entries)
