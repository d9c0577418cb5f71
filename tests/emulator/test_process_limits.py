"""What would break a shared emulator for every other test, so these get one of their own: a
clock moved to the end of time, and its SQLite files locked by another process."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google.api_core import exceptions
from google.cloud.logging_v2.types import LogEntry

from observability import gcp
from observability.emulator.process import emulator_process
from observability.gcp import Endpoint

pytestmark = pytest.mark.integration

PROJECT = "limits"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("own-emulator")


@pytest.fixture(scope="module")
def own(data_dir: Path) -> Iterator[Endpoint]:
    with emulator_process(data_dir) as endpoint:
        yield endpoint


@pytest.fixture
def http(own: Endpoint) -> Iterator[httpx.Client]:
    assert own.http_url
    with httpx.Client(base_url=own.http_url, timeout=30) as client:
        yield client


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("advance", {"seconds": 1e15}),
        ("advance", {"seconds": 10**400}),
        ("advance", {"seconds": 1e308}),
        ("set", {"time": "9999-12-31T23:59:59-14:00"}),
        ("set", {"time": "0001-01-01T00:00:00+14:00"}),
        ("set", {"time": "2400-01-01T00:00:00Z"}),
    ],
)
def test_the_clock_refuses_to_leave_the_calendar(
    http: httpx.Client, action: str, body: dict[str, object]
) -> None:
    before = http.get("/v1/emulator/clock").json()

    response = http.post(f"/v1/emulator/clock:{action}", json=body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    after = http.get("/v1/emulator/clock")  # every later read still works
    assert after.status_code == 200, after.text
    assert after.json()["offsetSeconds"] == before["offsetSeconds"]


def _entry(text: str) -> LogEntry:
    """An entry for the GAPIC client (snake_case; REST takes camelCase, see ``_rest_entry``)."""
    return LogEntry(
        log_name=f"projects/{PROJECT}/logs/locked",
        resource={"type": "global"},
        text_payload=text,
    )


def _rest_entry(text: str) -> dict[str, object]:
    return {
        "logName": f"projects/{PROJECT}/logs/locked",
        "resource": {"type": "global"},
        "textPayload": text,
    }


def test_a_store_locked_by_another_process_answers_unavailable_quickly(
    own: Endpoint, http: httpx.Client, data_dir: Path
) -> None:
    api = gcp.logging_api(own)
    api.write_log_entries(entries=[_entry("before")])
    holder = sqlite3.connect(data_dir / "logging.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    try:
        started = time.monotonic()
        with pytest.raises(exceptions.ServiceUnavailable, match="locked"):
            api.write_log_entries(entries=[_entry("during")], retry=None, timeout=30)
        grpc_seconds = time.monotonic() - started
        response = http.post("/v2/entries:write", json={"entries": [_rest_entry("during")]})
        listed = api.list_log_entries(request={"resource_names": [f"projects/{PROJECT}"]})
        texts = [entry.text_payload for entry in listed]  # reads go on meanwhile (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert grpc_seconds < 10, grpc_seconds  # not SQLite's old 30 s wait, then a 500
    assert response.status_code == 503, response.text
    assert response.json()["error"]["status"] == "UNAVAILABLE"
    assert texts == ["before"]
    api.write_log_entries(entries=[_entry("after")])  # and it recovers by itself
    listed = api.list_log_entries(request={"resource_names": [f"projects/{PROJECT}"]})
    assert [entry.text_payload for entry in listed] == ["before", "after"]
    api.transport.close()
