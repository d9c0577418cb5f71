"""The REST surface for what no Google client would send: malformed bodies must get a 400
in Google's error shape with a reason, never a traceback or a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from observability.gcp import Endpoint

pytestmark = pytest.mark.integration


def post(emulator: Endpoint, path: str, content: bytes | str) -> httpx.Response:
    return httpx.post(
        f"{emulator.http_url}{path}",
        content=content,
        headers={"content-type": "application/json"},
        timeout=30,
    )


def google_error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status
    return error


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "Invalid JSON payload received. Expecting property name"),
        (b"\xff\xfe", "Invalid JSON payload received."),
        (b"[1, 2]", "must be a JSON object, got an array"),
        (b'{"entries": NaN}', "NaN is not valid JSON"),
        (b'{"entries": "x"}', "entries: required, a JSON array"),
        (b'{"entries": [], "dryRun": "maybe"}', "Failed to parse dryRun field"),
        (b'{"entries": [], "bogus": 1}', 'no field named "bogus"'),
        (b'{"entries": [5]}', "entries[0]. a LogEntry must be an object, got a number"),
        (b'{"entries": [{"severity": "LOUD"}]}', "entries[0]. Failed to parse severity"),
        (b'{"entries": [{"textPayload": "a", "jsonPayload": {}}]}', "more than one payload"),
        (b'{"entries": [{"jsonPayload": [1]}]}', "jsonPayload must be an object"),
        (b'{"entries": [{"timestamp": "yesterday"}]}', "entries[0]. Failed to parse timestamp"),
    ],
)
def test_malformed_write_bodies_get_400_with_a_reason(
    emulator: Endpoint, body: bytes, reason: str
) -> None:
    error = google_error(post(emulator, "/v2/entries:write", body))

    assert error["status"] == "INVALID_ARGUMENT"
    assert reason in error["message"]


def test_a_body_over_10_mib_is_refused(emulator: Endpoint) -> None:
    body = '{"entries": [{"textPayload": "' + "x" * (10 * 1024 * 1024) + '"}]}'

    error = google_error(post(emulator, "/v2/entries:write", body))
    assert "exceeds the limit: 10485760 bytes" in error["message"]


def test_partial_errors_are_in_the_json_error_details(emulator: Endpoint, project: str) -> None:
    body = {
        "logName": f"projects/{project}/logs/rest",
        "resource": {"type": "global"},
        "partialSuccess": True,
        "entries": [{"textPayload": "ok"}, {"textPayload": "bad", "logName": "nope"}],
    }
    response = httpx.post(f"{emulator.http_url}/v2/entries:write", json=body, timeout=30)

    error = google_error(response)
    assert error["details"] == [
        {
            "@type": "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors",
            "logEntryErrors": {
                "1": {"code": 3, "message": error["details"][0]["logEntryErrors"]["1"]["message"]}
            },
        }
    ]
    assert error["details"][0]["logEntryErrors"]["1"]["message"].startswith("logName:")


def test_rest_listing_returns_the_json_shape(emulator: Endpoint, project: str) -> None:
    write = {
        "logName": f"projects/{project}/logs/rest",
        "resource": {"type": "global"},
        "entries": [
            {
                "jsonPayload": {"n": 1.0, "big": 1e300, "list": [1, "a", None]},
                "severity": 500,
                "timestamp": "2026-01-01T01:00:00+01:00",
            }
        ],
    }
    assert httpx.post(f"{emulator.http_url}/v2/entries:write", json=write).json() == {}

    listed = httpx.post(
        f"{emulator.http_url}/v2/entries:list",
        json={"resourceNames": [f"projects/{project}"], "pageSize": 5},
    ).json()
    (entry,) = listed["entries"]
    assert "nextPageToken" not in listed
    assert entry["jsonPayload"] == {"n": 1, "big": 1e300, "list": [1, "a", None]}
    assert entry["severity"] == "ERROR"
    assert entry["timestamp"] == "2026-01-01T00:00:00Z"


def test_logs_are_listed_over_rest(emulator: Endpoint, project: str) -> None:
    write = {
        "logName": f"projects/{project}/logs/rest-log",
        "resource": {"type": "global"},
        "entries": [{"textPayload": "x"}],
    }
    httpx.post(f"{emulator.http_url}/v2/entries:write", json=write)

    response = httpx.get(f"{emulator.http_url}/v2/projects/{project}/logs?pageSize=10")
    assert response.json() == {"logNames": [f"projects/{project}/logs/rest-log"]}
    bad = httpx.get(f"{emulator.http_url}/v2/projects/{project}/logs?pageSize=ten")
    assert (
        "pageSize" in google_error(bad)["message"] or "Invalid JSON" in google_error(bad)["message"]
    )


def test_unknown_paths_answer_in_googles_shape(emulator: Endpoint) -> None:
    error = google_error(httpx.get(f"{emulator.http_url}/v2/nothing"), status=404)

    assert error["status"] == "NOT_FOUND"
