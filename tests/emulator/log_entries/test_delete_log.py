"""DeleteLog through the real clients (``Logger.delete()`` over gRPC and HTTP, the GAPIC
client, a bare ``DELETE /v2/...``): the log's entries go, other logs stay, a log without
entries is NOT_FOUND (what Google's own samples retry on), and log-based metrics keep what
they counted (they never backfill, and never un-count)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import httpx
import pytest
from google.api_core import exceptions
from google.cloud.logging import Client
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.metrics_service_v2 import MetricsServiceV2Client
from google.cloud.monitoring_v3 import MetricServiceClient

from observability.gcp import Endpoint
from tests.emulator.helpers import ALL_TIME, all_entries, emulator_now, payloads

pytestmark = pytest.mark.integration

TRANSPORTS = ("grpc", "http")


def write(api: LoggingServiceV2Client, log_name: str, *texts: str, **entry: object) -> None:
    api.write_log_entries(
        request={
            "log_name": log_name,
            "resource": {"type": "global"},
            "entries": [{"text_payload": text, **entry} for text in texts],
        }
    )


def log_names(api: LoggingServiceV2Client, parent: str) -> list[str]:
    return list(api.list_logs(parent=parent))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_logger_delete_removes_only_its_log_and_a_second_delete_is_not_found(
    hand_client: Callable[[str], Client],
    api: LoggingServiceV2Client,
    transport: str,
    project: str,
) -> None:
    client = hand_client(transport)
    doomed, kept = client.logger("doomed"), client.logger("kept")
    doomed.log_text("one")
    doomed.log_struct({"two": 2})
    kept.log_text("stays")

    doomed.delete()

    assert payloads(doomed.list_entries(filter_=ALL_TIME)) == []
    assert payloads(kept.list_entries(filter_=ALL_TIME)) == ["stays"]
    assert log_names(api, f"projects/{project}") == [f"projects/{project}/logs/kept"]
    # Google's samples retry DeleteLog on NotFound until the log shows up; its system tests
    # swallow NotFound in teardown: a log without entries is NOT_FOUND, not a silent success.
    with pytest.raises(exceptions.NotFound, match="doomed"):
        doomed.delete()
    with pytest.raises(exceptions.NotFound):
        client.logger("never-written").delete()

    doomed.log_text("back")  # the log reappears when it receives new entries
    assert payloads(doomed.list_entries(filter_=ALL_TIME)) == ["back"]
    assert [name.rsplit("/", 1)[1] for name in log_names(api, f"projects/{project}")] == [
        "doomed",
        "kept",
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_url_encoded_log_ids_are_deleted(
    hand_client: Callable[[str], Client],
    api: LoggingServiceV2Client,
    transport: str,
    project: str,
) -> None:
    audit = f"projects/{project}/logs/cloudaudit.googleapis.com%2Factivity"
    write(api, audit, "audited")
    write(api, f"projects/{project}/logs/cloudaudit.googleapis.com%2Fdata_access", "other")

    hand_client(transport).logger("cloudaudit.googleapis.com%2Factivity").delete()

    assert [e.text_payload for e in all_entries(api, project)] == ["other"]


def test_rest_delete_answers_an_empty_object_and_googles_error_shape(
    emulator: Endpoint, api: LoggingServiceV2Client, project: str
) -> None:
    write(api, f"projects/{project}/logs/a%2Fb", "x")
    url = f"{emulator.http_url}/v2/projects/{project}/logs/{quote('a/b', safe='')}"

    first = httpx.delete(url, timeout=10)
    assert (first.status_code, first.json()) == (200, {})
    again = httpx.delete(url, timeout=10)
    assert again.status_code == 404
    assert again.json()["error"]["status"] == "NOT_FOUND"
    bad = httpx.delete(f"{emulator.http_url}/v2/projects/{project}/logs/bad!name", timeout=10)
    assert bad.status_code == 400
    assert "LOG_ID" in bad.json()["error"]["message"]


@pytest.mark.parametrize("parent", ["organizations/123", "folders/456", "billingAccounts/0-1"])
def test_every_parent_kind_can_delete_its_logs(
    api: LoggingServiceV2Client, emulator: Endpoint, parent: str, project: str
) -> None:
    parent = f"{parent}{project[-6:]}"  # a parent of this test's own
    write(api, f"{parent}/logs/syslog", "x")
    write(api, f"{parent}/logs/kept", "y")

    api.delete_log(log_name=f"{parent}/logs/syslog")

    assert log_names(api, parent) == [f"{parent}/logs/kept"]
    with pytest.raises(exceptions.NotFound):
        api.delete_log(log_name=f"{parent}/logs/syslog")


@pytest.mark.parametrize(
    "log_name", ["", "projects/p", "projects/p/logs/", "projects/p/logs/a b", "buckets/b/logs/x"]
)
def test_a_malformed_log_name_is_invalid_argument_naming_the_field(
    api: LoggingServiceV2Client, log_name: str
) -> None:
    with pytest.raises(exceptions.InvalidArgument, match=r"log_?[nN]ame"):
        api.delete_log(log_name=log_name)


def test_late_entries_older_than_the_delete_are_deleted_too(
    api: LoggingServiceV2Client, project: str
) -> None:
    """The API reference: "Entries received after the delete operation with a timestamp
    before the operation will be deleted." Newer ones make the log reappear."""
    log_name = f"projects/{project}/logs/late"
    write(api, log_name, "before")
    api.delete_log(log_name=log_name)
    old = datetime.now(timezone.utc) - timedelta(minutes=5)

    write(api, log_name, "late", timestamp=old)
    assert all_entries(api, project) == []
    write(api, log_name, "new")
    assert [e.text_payload for e in all_entries(api, project)] == ["new"]


def test_log_based_metrics_keep_their_points_and_do_not_recount(
    api: LoggingServiceV2Client,
    metrics: MetricsServiceV2Client,
    monitoring: MetricServiceClient,
    emulator: Endpoint,
    project: str,
) -> None:
    metrics.create_log_metric(
        request={
            "parent": f"projects/{project}",
            "metric": {"name": "texts", "filter": "textPayload:*"},
        }
    )
    log_name = f"projects/{project}/logs/counted"
    write(api, log_name, "a", "b")

    api.delete_log(log_name=log_name)
    write(api, log_name, "c")

    now = emulator_now(emulator)
    (series,) = monitoring.list_time_series(
        request={
            "name": f"projects/{project}",
            "filter": 'metric.type="logging.googleapis.com/user/texts"',
            # a point ends with its minute, which may still be running
            "interval": {
                "start_time": now - timedelta(minutes=5),
                "end_time": now + timedelta(minutes=2),
            },
        }
    )
    assert sum(p.value.int64_value for p in series.points) == 3
    assert [e.text_payload for e in all_entries(api, project)] == ["c"]
