"""The behaviours Google's own system tests for google-cloud-logging check
(python-logging tests/system/test_system.py: the entry, metric and logs.list cases; sinks
need Storage, Pub/Sub and BigQuery and are left out), written afresh against the emulator.
Each case ends as Google's tearDown does, with ``Logger.delete()``/``Metric.delete()``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import google.cloud.logging_v2
import pytest
from google.cloud.logging import Client, Resource
from google.cloud.logging_v2 import entries as entry_types

from tests.emulator.helpers import ALL_TIME

pytestmark = pytest.mark.integration

TRANSPORTS = ("grpc", "http")
STRUCT = {"message": "System test", "weather": {"clouds": "partly", "temperature": 70}}
REQUEST = {"requestMethod": "POST", "requestUrl": "https://api.example.com/x", "status": 500}
PROTO_PAYLOADS: dict[str, dict[str, Any]] = {
    "google.cloud.audit.AuditLog": {
        "methodName": "test",
        "resourceName": "test",
        "serviceName": "test",
        "requestMetadata": {"callerIp": "127.0.0.1"},
    },
    "google.appengine.logging.v1.RequestLog": {
        "ip": "0.0.0.0",
        "appId": "test",
        "requestId": "12345",
        "latency": "500s",
        "method": "GET",
        "status": 500,
    },
    "google.iam.v1.logging.AuditData": {"policyDelta": {}},
}


@pytest.fixture(autouse=True)
def no_diagnostic_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Google's tests count entries of a fresh log; keep the client's one-off diagnostic
    entry out of them, as test_api_equality_list_logs does."""
    monkeypatch.setattr(google.cloud.logging_v2, "_instrumentation_emitted", True)


@pytest.fixture(params=TRANSPORTS)
def client(request: pytest.FixtureRequest, hand_client: Callable[[str], Client]) -> Client:
    return hand_client(request.param)


@pytest.fixture
def logger(client: Client) -> Iterator[Any]:
    """A fresh logger, deleted afterwards as Google's tearDown does (which must succeed:
    the log holds the entries the test wrote)."""
    logger = client.logger("system-test")
    yield logger
    logger.delete()


def only_entry(logger: Any) -> Any:
    (entry,) = logger.list_entries(filter_=ALL_TIME)
    return entry


def test_log_text(logger: Any) -> None:
    logger.log_text("System test: test_log_text")

    entry = only_entry(logger)
    assert entry.payload == "System test: test_log_text"
    assert isinstance(entry, entry_types.TextEntry)


def test_log_text_with_timestamp(logger: Any) -> None:
    now = datetime.now(timezone.utc)
    logger.log_text("with timestamp", timestamp=now)

    entry = only_entry(logger)
    assert entry.timestamp == now
    assert isinstance(entry.received_timestamp, datetime)


def test_log_text_with_resource(logger: Any) -> None:
    resource = Resource(type="gae_app", labels={"module_id": "default", "version_id": "test"})
    logger.log_text("with resource", resource=resource)

    entry = only_entry(logger)
    del entry.resource.labels["project_id"]  # output only: Google's test deletes it too
    assert entry.resource == resource


@pytest.mark.parametrize("method", ["log_text", "log_struct"])
def test_log_with_metadata(logger: Any, method: str) -> None:
    payload = "metadata" if method == "log_text" else STRUCT
    getattr(logger, method)(payload, insert_id="INSERTID", severity="INFO", http_request=REQUEST)

    entry = only_entry(logger)
    assert (entry.payload, entry.insert_id, entry.severity) == (payload, "INSERTID", "INFO")
    assert {key: entry.http_request[key] for key in REQUEST} == REQUEST


@pytest.mark.parametrize("payload", ["plain log()", STRUCT, None])
def test_log_guesses_the_payload(logger: Any, payload: Any) -> None:
    if payload is None:
        logger.log()
    else:
        logger.log(payload)

    entry = only_entry(logger)
    assert entry.payload == payload
    assert not entry.trace_sampled


def test_log_struct_logentry_data(logger: Any) -> None:
    data = {"message": "m", "severity": "warning", "trace": "123", "span_id": "456"}
    logger.log(data)

    entry = only_entry(logger)
    assert entry.payload == data
    assert (entry.severity, entry.trace, entry.span_id) == ("WARNING", "123", "456")


@pytest.mark.parametrize("type_name", sorted(PROTO_PAYLOADS))
def test_list_entry_with_proto_payload(logger: Any, type_name: str) -> None:
    from google.protobuf import json_format, struct_pb2

    type_url = f"type.googleapis.com/{type_name}"
    logger.log_proto(
        json_format.ParseDict({"@type": type_url, **PROTO_PAYLOADS[type_name]}, struct_pb2.Struct())
    )

    entry = only_entry(logger)
    assert isinstance(entry, entry_types.ProtobufEntry)
    assert entry.payload_pb is None
    assert entry.payload_json["@type"] == type_url
    assert entry.to_api_repr()["protoPayload"]["@type"] == type_url


def test_api_equality_list_logs(hand_client: Callable[[str], Client]) -> None:
    grpc_logger = hand_client("grpc").logger("api-list")
    http_logger = hand_client("http").logger("api-list")
    for i in range(5):
        grpc_logger.log_text(f"test {i}")

    for order, first in (
        (google.cloud.logging_v2.ASCENDING, "test 0"),
        (google.cloud.logging_v2.DESCENDING, "test 4"),
    ):
        over_grpc, over_http = (
            list(one.list_entries(filter_=ALL_TIME, max_results=3, order_by=order))
            for one in (grpc_logger, http_logger)
        )
        assert len(over_grpc) == len(over_http) == 3
        assert over_grpc[0].insert_id == over_http[0].insert_id
        assert over_grpc[0].payload == first
    grpc_logger.delete()


def test_metric_create_list_reload_update_delete(hand_client: Callable[[str], Client]) -> None:
    client = hand_client("grpc")
    metric = client.metric(
        "test-metric", filter_="logName:syslog AND severity>=INFO", description="System testing"
    )
    assert not metric.exists()
    metric.create()
    assert metric.exists()
    assert [m.name for m in client.list_metrics()] == ["test-metric"]

    metric.filter_, metric.description = "logName:other", "local changes"
    metric.reload()
    assert (metric.filter_, metric.description) == (
        "logName:syslog AND severity>=INFO",
        "System testing",
    )

    metric.filter_, metric.description = "logName:other", "updated"
    metric.update()
    (after,) = client.list_metrics()
    assert (after.filter_, after.description) == ("logName:other", "updated")
    metric.delete()
    assert not metric.exists()
