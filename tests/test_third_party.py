"""track_third_party outside Airflow, in a process of its own, events read back from the
emulator: the outcome rules, the decorator form, and that the caller's exception survives."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from examples.payments_service import PaymentsService
from observability.gcp import Endpoint, logging_client

pytestmark = pytest.mark.integration

SCRIPT = textwrap.dedent(
    """
    import socket, sys, urllib.error, urllib.request
    import callbacks

    base = sys.argv[1]

    @callbacks.track_third_party("payments-api", "create_charge", target=base + "/v1/charges")
    def charge():
        return urllib.request.urlopen(urllib.request.Request(base + "/v1/charges", data=b"{}"))

    assert charge().status == 201  # the status is read off the returned response

    class RequestsLikeResponse:
        status_code = 409

    with callbacks.track_third_party("payments-api", "refund") as call:
        call.record_response(RequestsLikeResponse())

    try:
        with callbacks.track_third_party(
            "payments-api", "capture", target=base.replace("//", "//etl:Ab/Cd+Ef9=@") + "/x?k=1"
        ):
            urllib.request.urlopen(base + "/v1/charges?fail=1", data=b"{}")
    except urllib.error.HTTPError as exc:
        assert exc.code == 503   # the caller's own exception, untouched
    else:
        raise SystemExit("HTTPError was swallowed")

    try:
        with callbacks.track_third_party("warehouse", "query"):
            raise socket.timeout("timed out")
    except socket.timeout:
        pass
    callbacks.flush(60)  # two loaded cores: more than the exit's 2 s budget
    print("done")
    """
)


def _events(endpoint: Endpoint, project: str) -> list[dict[str, Any]]:
    client = logging_client(project, endpoint)
    entries = client.list_entries(
        filter_=f'logName="projects/{project}/logs/composer-observability"',
        order_by="timestamp asc",
    )
    return [entry.payload | {"severity": entry.severity} for entry in entries]


def test_outcomes_statuses_targets_and_the_decorator(
    emulator_env: dict[str, str], emulator: Endpoint, project: str
) -> None:
    with PaymentsService() as service:
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, service.url],
            env={**os.environ, **emulator_env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    events = _events(emulator, project)
    assert {event.get("hostname") for event in events} == {socket.gethostname()}  # no Airflow
    calls = [(e["third_party"], e["severity"]) for e in events]
    assert [(c["operation"], c["outcome"], c.get("status_code")) for c, _ in calls] == [
        ("create_charge", "success", 201),
        ("refund", "error", 409),
        ("capture", "error", 503),
        ("query", "timeout", None),
    ]
    assert [severity for _, severity in calls] == ["INFO", "WARNING", "WARNING", "WARNING"]
    capture = calls[2][0]
    assert capture["error_type"] == "HTTPError"
    assert capture["target"] == f"{service.url}/x"  # a password with "/" in it: gone whole
    assert capture["target_host"] == service.url.removeprefix("http://")
    assert calls[3][0]["error_type"] in ("timeout", "TimeoutError")
    assert all(c["latency_ms"] >= 0 for c, _ in calls)
