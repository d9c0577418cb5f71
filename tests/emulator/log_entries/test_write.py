"""entries.write through the real Google clients: defaults, dedup, partial success, dry run,
and the validation refusals, each of which must name the offending field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud.logging import Client
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.types import WriteLogEntriesPartialErrors

from tests.emulator.helpers import ALL_TIME, all_entries, as_json, payloads

pytestmark = pytest.mark.integration

GLOBAL = {"type": "global"}


def write(
    api: LoggingServiceV2Client, project: str, entries: list[dict[str, Any]], **kw: Any
) -> None:
    request = {
        "log_name": f"projects/{project}/logs/test",
        "resource": GLOBAL,
        "entries": entries,
        **kw,
    }
    api.write_log_entries(request=request)


def partial_errors(error: exceptions.GoogleAPICallError) -> dict[int, str]:
    """The per-entry messages of a WriteLogEntriesPartialErrors detail, by entry index."""
    (detail,) = error.details
    partial = WriteLogEntriesPartialErrors.pb()()
    assert detail.Unpack(partial)
    return {index: status.message for index, status in partial.log_entry_errors.items()}


def test_entries_come_back_with_every_field_and_the_server_fields(
    api: LoggingServiceV2Client, project: str
) -> None:
    entry = {
        "json_payload": {"event": "task_failed", "try_number": 2, "nested": {"ok": False}},
        "severity": "ERROR",
        "labels": {"dag_id": "etl"},
        "trace": f"projects/{project}/traces/abc",
        "span_id": "000000000000004a",
        "http_request": {"request_method": "GET", "status": 503, "latency": timedelta(seconds=1.5)},
        "source_location": {"file": "dag.py", "line": 12, "function": "run"},
        "operation": {"id": "op-1", "producer": "airflow", "first": True},
        "timestamp": {"seconds": 1767323045, "nanos": 123456789},
    }
    write(api, project, [entry, {"text_payload": "plain"}])

    first, second = (as_json(e) for e in all_entries(api, project))
    server_set = {key: first.pop(key) for key in ("insertId", "receiveTimestamp")}
    assert first == {
        "logName": f"projects/{project}/logs/test",
        "resource": {"type": "global", "labels": {"project_id": project}},  # filled in
        "jsonPayload": {"event": "task_failed", "try_number": 2.0, "nested": {"ok": False}},
        "severity": "ERROR",
        "labels": {"dag_id": "etl"},
        "trace": f"projects/{project}/traces/abc",
        "spanId": "000000000000004a",
        "httpRequest": {"requestMethod": "GET", "status": 503, "latency": "1.500s"},
        "sourceLocation": {"file": "dag.py", "line": "12", "function": "run"},
        "operation": {"id": "op-1", "producer": "airflow", "first": True},
        "timestamp": "2026-01-02T03:04:05.123456789Z",
    }
    assert server_set["insertId"]
    assert server_set["receiveTimestamp"] > "2026"
    assert second["textPayload"] == "plain"
    assert second["timestamp"] == second["receiveTimestamp"]  # the server filled in "now"


def test_request_defaults_fill_only_what_entries_lack(
    api: LoggingServiceV2Client, project: str
) -> None:
    own = {"log_name": f"projects/{project}/logs/own", "resource": {"type": "gce_instance"}}
    write(
        api,
        project,
        [{"text_payload": "defaults", "labels": {"b": "entry"}}, {"text_payload": "own", **own}],
        labels={"a": "request", "b": "request"},
    )

    defaults, own_entry = sorted(all_entries(api, project), key=lambda e: e.text_payload)
    assert defaults.log_name == f"projects/{project}/logs/test"
    assert defaults.resource.type == "global"
    assert dict(defaults.labels) == {"a": "request", "b": "entry"}
    assert own_entry.log_name == own["log_name"]
    assert own_entry.resource.type == "gce_instance"


def test_a_replayed_batch_is_stored_once(api: LoggingServiceV2Client, project: str) -> None:
    batch = [
        {"text_payload": f"event {i}", "insert_id": f"id-{i}", "timestamp": "2026-01-01T00:00:00Z"}
        for i in range(5)
    ]
    write(api, project, batch)
    write(api, project, batch)
    write(api, project, batch[:2])

    assert len(all_entries(api, project)) == 5


def test_same_insert_id_at_another_time_is_another_entry(
    api: LoggingServiceV2Client, project: str
) -> None:
    write(
        api, project, [{"text_payload": "a", "insert_id": "x", "timestamp": "2026-01-01T00:00:00Z"}]
    )
    write(
        api, project, [{"text_payload": "b", "insert_id": "x", "timestamp": "2026-01-01T00:00:01Z"}]
    )

    assert [e.text_payload for e in all_entries(api, project)] == ["a", "b"]


def test_entries_without_time_or_id_keep_their_batch_order(
    api: LoggingServiceV2Client, project: str
) -> None:
    write(api, project, [{"text_payload": str(i)} for i in range(20)])

    entries = all_entries(api, project)
    assert [e.text_payload for e in entries] == [str(i) for i in range(20)]
    assert len({e.insert_id for e in entries}) == 20


def test_partial_success_stores_the_valid_entries_and_reports_the_others(
    api: LoggingServiceV2Client, project: str
) -> None:
    entries = [
        {"text_payload": "ok 1"},
        {"text_payload": "bad", "log_name": "projects/only-a-project"},
        {"text_payload": "ok 2"},
        {"text_payload": "bad", "log_name": f"projects/{project}/logs/sp ace"},
    ]
    with pytest.raises(exceptions.InvalidArgument) as raised:
        write(api, project, entries, partial_success=True)

    assert "entries[1]: logName" in raised.value.message
    errors = partial_errors(raised.value)
    assert set(errors) == {1, 3}
    assert errors[1].startswith("logName:")
    assert "' '" in errors[3]
    assert [e.text_payload for e in all_entries(api, project)] == ["ok 1", "ok 2"]


def test_without_partial_success_one_bad_entry_stores_nothing(
    api: LoggingServiceV2Client, project: str
) -> None:
    request = {
        "log_name": f"projects/{project}/logs/test",
        "entries": [{"text_payload": "ok", "resource": GLOBAL}, {"text_payload": "no resource"}],
    }
    with pytest.raises(exceptions.InvalidArgument, match=r"entries\[1\]: resource.type") as raised:
        api.write_log_entries(request=request)

    assert raised.value.details == []
    assert all_entries(api, project) == []


def test_dry_run_validates_but_stores_nothing(api: LoggingServiceV2Client, project: str) -> None:
    write(api, project, [{"text_payload": "rehearsal"}], dry_run=True)
    with pytest.raises(exceptions.InvalidArgument, match="logName"):
        write(api, project, [{"text_payload": "x", "log_name": "nope"}], dry_run=True)

    assert all_entries(api, project) == []


def _future(hours: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"log_name": "logs/x"}, "logName"),
        ({"log_name": "projects/p/logs/" + "a" * 512}, "logName: LOG_ID must be shorter"),
        ({"log_name": "projects/p/logs/bad*name"}, "logName: LOG_ID may only"),
        ({"log_name": "projects/p/logs/my%20log"}, "logName: LOG_ID may only"),
        ({"log_name": "projects/p/logs/ok%0Anewline"}, "logName: LOG_ID may only"),
        ({"resource": {"type": ""}}, "resource.type"),
        ({"timestamp": _future(25)}, "timestamp"),
        ({"labels": {f"k{i}": "v" for i in range(65)}}, "labels: 65 labels"),
        (
            {"text_payload": "x" * 300_000},
            "log entry of",
        ),
        (
            {"proto_payload": {"type_url": "type.googleapis.com/my.Own", "value": b""}},
            "protoPayload",
        ),
    ],
    ids=[
        "parent",
        "long-id",
        "bad-char",
        "encoded-space",
        "encoded-control",
        "resource",
        "future",
        "labels",
        "size",
        "proto-type",
    ],
)
def test_invalid_entries_are_refused_naming_the_field(
    api: LoggingServiceV2Client, project: str, change: dict[str, Any], field: str
) -> None:
    entry = {"text_payload": "x", **change}
    with pytest.raises(exceptions.InvalidArgument) as raised:
        write(api, project, [entry])

    assert f"entries[0]: {field}" in raised.value.message


def test_a_day_ahead_is_still_accepted(api: LoggingServiceV2Client, project: str) -> None:
    write(api, project, [{"text_payload": "soon", "timestamp": _future(23)}])

    assert len(all_entries(api, project)) == 1


def test_overlong_labels_are_truncated(api: LoggingServiceV2Client, project: str) -> None:
    write(api, project, [{"text_payload": "x", "labels": {"k" * 600: "é" * 40_000}}])

    ((key, value),) = all_entries(api, project)[0].labels.items()
    assert key == "k" * 512
    assert len(value.encode()) == 64 * 1024


def test_log_ids_are_stored_url_encoded(api: LoggingServiceV2Client, project: str) -> None:
    write(api, project, [{"text_payload": "x", "log_name": f"projects/{project}/logs/a/b"}])

    (entry,) = all_entries(api, project, 'log_id("a/b")')
    assert entry.log_name == f"projects/{project}/logs/a%2Fb"


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_hand_written_client_writes_and_reads(
    hand_client: Callable[[str], Client], project: str, transport: str
) -> None:
    from google.cloud.logging import DESCENDING

    client = hand_client(transport)
    logger = client.logger("composer-observability")
    logger.log_struct({"event": "task_failed", "dag_id": "etl"}, severity="ERROR")
    logger.log_text("a line of text", labels={"task-id": "t1"})
    with logger.batch() as batch:
        for i in range(3):
            batch.log_struct({"event": "batched", "n": i})

    log_filter = f'logName="projects/{project}/logs/composer-observability" {ALL_TIME}'
    entries = list(client.list_entries(filter_=log_filter, order_by=DESCENDING, page_size=2))
    assert payloads(entries) == [
        {"event": "batched", "n": 2},
        {"event": "batched", "n": 1},
        {"event": "batched", "n": 0},
        "a line of text",
        {"event": "task_failed", "dag_id": "etl"},
    ]
    assert entries[-1].timestamp <= entries[0].timestamp


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_hand_written_client_sees_refusals(
    hand_client: Callable[[str], Client], transport: str
) -> None:
    logger = hand_client(transport).logger("composer-observability")
    # Over HTTP the error class comes from the status alone: 400 is BadRequest. The entry is
    # at index 1 when it is the process's first write through the hand-written client, which
    # then sends its diagnostic entry first.
    with pytest.raises(exceptions.BadRequest, match=r"entries\[[01]\]: labels: 65 labels"):
        logger.log_text("x", labels={f"k{i}": "v" for i in range(65)})


def test_a_request_over_10_mib_is_refused(api: LoggingServiceV2Client, project: str) -> None:
    entries = [{"text_payload": "x" * 250_000} for _ in range(45)]

    with pytest.raises(exceptions.InvalidArgument, match="exceeds the limit: 10485760 bytes"):
        write(api, project, entries)
    assert all_entries(api, project) == []
