"""The Cloud Logging entry an event becomes: shape, labels, severity, redaction, size."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from observability.emit.entry import EntryTarget, to_entry
from observability.emit.truncate import MARKER
from observability.events import Event, EventType

COMPOSER = EntryTarget("proj-1", "composer-observability", "europe-west1", "prod")
LAPTOP = EntryTarget("proj-1", "composer-observability")


def _fields(**extra: object) -> dict[str, object]:
    return {
        "event_type": "task_failed",
        "dag_id": "payments",
        "task_id": "charge",
        "run_id": "scheduled__2026-11-23T00:00:00+00:00",
        "try_number": 2,
        **extra,
    }


def test_entry_shape_on_composer() -> None:
    entry = to_entry(_fields(), COMPOSER, 250_000)
    assert entry["logName"] == "projects/proj-1/logs/composer-observability"
    assert entry["resource"] == {
        "type": "cloud_composer_environment",
        "labels": {"project_id": "proj-1", "location": "europe-west1", "environment_name": "prod"},
    }
    assert entry["severity"] == "ERROR"
    assert entry["labels"] == {
        "event_type": "task_failed",
        "dag_id": "payments",
        "task_id": "charge",
        "run_id": "scheduled__2026-11-23T00:00:00+00:00",
        "try_number": "2",
    }
    assert entry["insertId"] == entry["jsonPayload"]["event_id"]
    assert entry["timestamp"] == entry["jsonPayload"]["timestamp"]
    assert entry["jsonPayload"]["schema_version"] == 1


def test_outside_composer_the_resource_is_global() -> None:
    assert to_entry(_fields(), LAPTOP, 250_000)["resource"] == {
        "type": "global",
        "labels": {"project_id": "proj-1"},
    }


@pytest.mark.parametrize(
    ("event_type", "severity"),
    [
        ("task_started", "INFO"),
        ("task_succeeded", "INFO"),
        ("task_failed", "ERROR"),
        ("task_up_for_retry", "WARNING"),
        ("task_skipped", "NOTICE"),
        ("dag_run_succeeded", "INFO"),
        ("dag_run_failed", "ERROR"),
    ],
)
def test_severity_follows_the_outcome(event_type: str, severity: str) -> None:
    assert to_entry(_fields(event_type=event_type), LAPTOP, 250_000)["severity"] == severity


def test_failed_third_party_call_is_a_warning() -> None:
    call = {"service": "stripe", "operation": "charge", "outcome": "timeout", "latency_ms": 5000}
    fields = {"event_type": "third_party_call", "third_party": call}
    assert to_entry(fields, LAPTOP, 250_000)["severity"] == "WARNING"
    call["outcome"] = "success"
    assert to_entry(fields, LAPTOP, 250_000)["severity"] == "INFO"


def test_secrets_in_any_field_are_redacted() -> None:
    exception = {
        "type": "ValueError",
        "message": "cannot reach postgres://etl:s3cr3t@db:5432/x (token=abc123def)",
        "fingerprint": "0" * 16,
        "traceback": "File x, in f\n  conn = connect(password='s3cr3t')",
    }
    entry = to_entry(
        _fields(exception=exception, labels={"note": "Bearer abcdefghijkl"}), LAPTOP, 250_000
    )
    text = json.dumps(entry)
    assert "s3cr3t" not in text
    assert "abc123def" not in text
    assert "abcdefghijkl" not in text


def test_a_megabyte_message_gives_a_valid_truncated_entry() -> None:
    exception = {
        "type": "RuntimeError",
        "message": "é" * 1_000_000,
        "fingerprint": "0" * 16,
        "traceback": "frame\n" * 50_000,
    }
    entry = to_entry(_fields(exception=exception), LAPTOP, 250_000)
    size = len(json.dumps(entry, ensure_ascii=False).encode())
    assert size <= 250_000
    payload = entry["jsonPayload"]
    assert payload["exception"]["message"].endswith(MARKER)
    assert payload["truncated"] == ["exception.message", "exception.traceback"]
    assert payload["dag_id"] == "payments"  # short fields are never cut


def test_small_entries_are_not_marked() -> None:
    assert "truncated" not in to_entry(_fields(), LAPTOP, 250_000)["jsonPayload"]


def test_a_bad_field_costs_only_that_field() -> None:
    entry = to_entry(_fields(try_number="not a number"), LAPTOP, 250_000)
    assert "try_number" not in entry["jsonPayload"]
    assert entry["jsonPayload"]["labels"]["schema_errors"] == "try_number"
    assert entry["jsonPayload"]["dag_id"] == "payments"


def test_event_models_pass_through() -> None:
    event = Event(
        event_type=EventType.TASK_SKIPPED, timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc)
    )
    entry = to_entry(event, LAPTOP, 250_000)
    assert entry["timestamp"] == "2026-01-01T00:00:00Z"
    assert entry["insertId"] == event.event_id
