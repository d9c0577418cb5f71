"""Whatever Airflow's REST API answers, the client returns the good records or one clear error.

Attacks at the wire (``airflow_wire``): odd records among good ones (missing fields, wrong
types, non-finite numbers, dates out of range or without a zone, control characters), lists
whose ``total_entries`` lies or never ends, and broken answers (not JSON, nested too deep, too
big, 5xx and 429 storms, a redirect loop, a server that never answers). An odd record costs
itself only; a broken answer is an ``AirflowAPIError`` naming the request, within the timeouts.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observability.watchdog.airflow_api import (
    LOG_TAIL_CHARS,
    AirflowAPI,
    AirflowAPIError,
    TaskInstance,
)
from observability.watchdog.config import AirflowAuth
from tests.watchdog.airflow_wire import AirflowWire, Fault, airflow_wire

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
SINCE = NOW - timedelta(hours=6)
_PER_EXAMPLE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _good(number: int) -> dict[str, Any]:
    return {
        "dag_id": f"dag_{number}",
        "dag_run_id": "scheduled__2026-12-07T06:00:00+00:00",
        "task_id": "load",
        "map_index": -1,
        "try_number": 1,
        "state": "failed",
        "start_date": "2026-12-07T10:00:00Z",
        "end_date": "2026-12-07T11:00:00Z",
        "updated_at": "2026-12-07T11:00:00Z",
        "duration": 3600.0,
    }


@contextmanager
def _impatient(wire: AirflowWire, timeout_s: float) -> Iterator[AirflowAPI]:
    """A client of ``wire`` that waits ``timeout_s`` per read and little between attempts."""
    client = AirflowAPI(wire.url, AirflowAuth(kind="none"), timeout_s=timeout_s)
    client.retry_wait_s = 0.01
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def api(wire: AirflowWire) -> Iterator[AirflowAPI]:
    with _impatient(wire, 1.0) as client:
        _ = client.major
        wire.reset()
        yield client


_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "2",
            "abc",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "10000-01-01T00:00:00Z",
            "2026-12-07T11:00:00",
            "2026-13-45T99:99:99Z",
            "\x00\x1b[31m\u202e",
            "x" * 100_000,
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
_FIELDS = st.sampled_from(
    [
        "dag_id",
        "dag_run_id",
        "task_id",
        "map_index",
        "try_number",
        "max_tries",
        "state",
        "start_date",
        "end_date",
        "duration",
        "queued_when",
        "scheduled_when",
        "pool",
        "queue",
        "operator",
        "hostname",
    ]
)


def _well_typed(ti: TaskInstance) -> None:
    """What the detectors rely on: ids are text, numbers are finite, times have a zone and
    survive arithmetic a day either way."""
    assert all(isinstance(value, str) and value for value in (ti.dag_id, ti.run_id, ti.task_id))
    assert isinstance(ti.map_index, int) and isinstance(ti.try_number, int)
    assert ti.max_tries is None or isinstance(ti.max_tries, int)
    assert ti.duration_s is None or (
        isinstance(ti.duration_s, float) and math.isfinite(ti.duration_s)
    )
    for when in (ti.start_date, ti.end_date, ti.queued_when, ti.scheduled_when):
        if when is not None:
            assert when.tzinfo is not None
            _ = (when - timedelta(days=1), when + timedelta(days=1), when.astimezone(timezone.utc))
    for text in (ti.state, ti.pool, ti.queue, ti.operator, ti.hostname):
        assert text is None or isinstance(text, str)


@_PER_EXAMPLE
@given(odd=st.dictionaries(_FIELDS, _ODD_VALUES, min_size=1, max_size=4), drop=st.sets(_FIELDS))
def test_an_odd_try_costs_itself_only(
    wire: AirflowWire, api: AirflowAPI, odd: dict[str, Any], drop: set[str]
) -> None:
    record = {key: value for key, value in {**_good(999), **odd}.items() if key not in drop}
    wire.tries[:] = [_good(1), record, _good(2)]
    found = api.changed_task_instances(["failed"], SINCE)
    assert {"dag_1", "dag_2"} <= {ti.dag_id for ti in found}
    for ti in found:
        _well_typed(ti)


def test_ids_with_control_characters_and_slashes_are_sent_quoted(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    """A run id may hold ``/``, ``?`` or ``#`` (a manual run named by a user): each is one
    path segment of the log's URL, not a path, a query or a fragment."""
    odd = {**_good(1), "dag_run_id": "manual/a?b#c d\u00e9\x07", "task_id": "t\u202e"}
    wire.tries[:] = [odd]
    wire.logs[("dag_1", odd["dag_run_id"], odd["task_id"], 1)] = "Killed"
    (ti,) = api.changed_task_instances(["failed"], SINCE)
    assert ti.run_id == odd["dag_run_id"]
    assert api.log_tail(ti) == "info Killed"


@pytest.mark.parametrize(
    "total",
    [10**12, -5, "many", None, 1.5e308, float("inf"), float("nan")],
    ids=["huge", "negative", "text", "null", "float", "inf", "nan"],
)
def test_a_total_that_lies_ends_the_list_with_what_was_served(
    wire: AirflowWire, api: AirflowAPI, total: Any
) -> None:
    served = json.dumps(
        {"import_errors": [{"filename": "a.py", "stack_trace": "E"}], "total_entries": total}
    )
    wire.fault = lambda path, query: Fault(body=served.encode()) if "importErrors" in path else None
    started = time.monotonic()
    try:
        errors = api.import_errors()
    except AirflowAPIError as exc:
        assert "importErrors" in str(exc)
    else:
        assert {error.filename for error in errors} == {"a.py"}
    assert time.monotonic() - started < 10
    assert len(wire.requests) <= AirflowAPI.MAX_PAGES


def test_a_list_whose_pages_never_end_is_read_as_far_as_its_first_total(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    """Every page full and the total always one page further: a server stuck in a loop. The
    first page's total says which pages to read; the later totals are not followed."""

    def endless(path: str, query: dict[str, Any]) -> Fault | None:
        offset = int(query.get("offset", ["0"])[0])
        page = [{"filename": f"f{offset + n}.py", "stack_trace": "E"} for n in range(100)]
        return Fault(
            body=json.dumps({"import_errors": page, "total_entries": offset + 200}).encode()
        )

    wire.fault = endless
    assert len(api.import_errors()) == 200
    assert len(wire.requests) == 2


def test_records_repeated_across_pages_are_read_once(wire: AirflowWire, api: AirflowAPI) -> None:
    """A record that moves while the pages are read (offset paging) is served twice."""
    wire.maximum_page_limit = 2
    wire.tries[:] = [_good(1), _good(2), _good(2), _good(3)]
    found = api.changed_task_instances(["failed"], SINCE)
    assert sorted(ti.dag_id for ti in found) == ["dag_1", "dag_2", "dag_3"]


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (200, b"<html>Sign in</html>", (("Content-Type", "text/html"),), "not JSON"),
        (200, b'{"import_errors": [', (), "not JSON"),
        (200, b'["a list"]', (), "not a JSON object"),
        (200, _nested(100_000), (), "not JSON"),
        (200, b'{"import_errors": "' + b"x" * (2 * 2**20) + b'"}', (), "larger than"),
        (503, b"busy", (), "answered 503"),
        (429, b"slow down", (("Retry-After", "1"),), "answered 429"),
        (500, b"\xff\xfe garbage", (), "answered 500"),
    ],
    ids=["html", "cut", "list", "deep", "huge", "503", "429", "500"],
)
def test_a_broken_answer_is_one_error_naming_the_request(
    wire: AirflowWire,
    api: AirflowAPI,
    status: int,
    body: bytes,
    headers: tuple[tuple[str, str], ...],
    expected: str,
) -> None:
    wire.fault = lambda path, query: Fault(status, body, headers)
    api.max_body_bytes = 2**20
    with pytest.raises(AirflowAPIError, match=expected) as caught:
        api.import_errors()
    assert "/api/v2/importErrors" in str(caught.value)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 500


def test_a_redirect_loop_is_an_error(wire: AirflowWire, api: AirflowAPI) -> None:
    wire.fault = lambda path, query: Fault(302, headers=(("Location", path),))
    with pytest.raises(AirflowAPIError, match="redirect"):
        api.import_errors()


def test_a_server_that_never_answers_costs_one_timeout_per_attempt(wire: AirflowWire) -> None:
    wire.fault = lambda path, query: None if path.endswith("/version") else Fault(hang=True)
    started = time.monotonic()
    with _impatient(wire, 0.3) as client, pytest.raises(AirflowAPIError, match="Timeout"):
        client.import_errors()
    assert time.monotonic() - started < 5


def test_a_server_that_drips_its_answer_is_cut_at_the_request_deadline(wire: AirflowWire) -> None:
    """A byte every 0.1 s never trips a read timeout of 0.3 s; the request's own deadline does."""
    wire.fault = lambda path, query: (
        None if path.endswith("/version") else Fault(body=b" " * 40 + b"{}", drip_s=0.1)
    )
    started = time.monotonic()
    with _impatient(wire, 0.3) as client, pytest.raises(AirflowAPIError, match="deadline"):
        client.import_errors()
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("version", ["", "abc", "v3", None, 3, "3", "3.3.2+composer"])
def test_an_odd_version_is_an_error_naming_it_or_its_major(wire: AirflowWire, version: Any) -> None:
    wire.fault = lambda path, query: (
        Fault(body=json.dumps({"version": version}).encode()) if path.endswith("/version") else None
    )
    with _impatient(wire, 1.0) as client:
        try:
            assert client.major == 3
        except AirflowAPIError as exc:
            assert "version" in str(exc)


def test_a_ten_megabyte_log_gives_its_last_lines() -> None:
    """Airflow 3 serves a whole log as JSON records: ten megabytes of them are read whole."""
    with airflow_wire(AirflowWire()) as wire:
        wire.tries[:] = [_good(1)]
        lines = [f"line {number} " + "x" * 100 for number in range(100_000)]
        wire.logs[("dag_1", _good(1)["dag_run_id"], "load", 1)] = "\n".join([*lines, "Killed"])
        with _impatient(wire, 5.0) as client:
            (ti,) = client.changed_task_instances(["failed"], SINCE)
            tail = client.log_tail(ti).splitlines()
    assert len(tail) == 40 and tail[-1].endswith("Killed")


def test_a_log_of_one_huge_line_gives_its_end() -> None:
    with airflow_wire(AirflowWire(major=2)) as wire:
        wire.tries[:] = [_good(1)]
        wire.logs[("dag_1", _good(1)["dag_run_id"], "load", 1)] = "x" * 5_000_000 + " Killed"
        with _impatient(wire, 5.0) as client:
            (ti,) = client.changed_task_instances(["failed"], SINCE)
            tail = client.log_tail(ti)
    assert len(tail) == LOG_TAIL_CHARS and tail.endswith(" Killed")


@pytest.mark.parametrize(
    "body", [b"<html>login</html>", b'{"token": "x"}', b'{"access_token": 7}', b"[]"]
)
def test_an_odd_token_endpoint_is_an_error_naming_it(
    wire: AirflowWire, tmp_path: Path, body: bytes
) -> None:
    (tmp_path / "password").write_text("hunter2hunter2")
    auth = AirflowAuth(kind="password", username="wd", password_file=tmp_path / "password")
    wire.fault = lambda path, query: Fault(body=body) if path == "/auth/token" else None
    client = AirflowAPI(wire.url, auth, timeout_s=1.0)
    try:
        with pytest.raises(AirflowAPIError, match="/auth/token") as caught:
            _ = client.major
    finally:
        client.close()
    assert "hunter2" not in str(caught.value)
