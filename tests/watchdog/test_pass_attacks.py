"""Whole passes against broken Airflows (at the wire) writing to Cloud Logging (the emulator).

One environment that never answers must not hold back another's pass; one odd record must
not cost the report of the others; and no secret in an import error's trace or a try's log
reaches Cloud Logging, whatever its shape and wherever the watchdog cuts the text.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from observability.gcp import Endpoint
from observability.watchdog.config import WatchdogConfig
from observability.watchdog.runner import Watchdog
from tests.support.cloud_logging import read_events
from tests.test_redact import SHAPED_SECRETS
from tests.watchdog.airflow_wire import AirflowWire, Fault, airflow_wire


def _at(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _failed_try(dag_id: str, ended: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "dag_run_id": "scheduled__2026-12-07T06:00:00+00:00",
        "task_id": "load",
        "map_index": -1,
        "try_number": 1,
        "state": "failed",
        "start_date": _at(ended - timedelta(minutes=5)),
        "end_date": _at(ended),
        "updated_at": _at(ended),
        "duration": 300.0,
        **fields,
    }


def _airflow(wire: AirflowWire, name: str, project: str) -> dict[str, Any]:
    return {"name": name, "url": wire.url, "project": project, "location": "europe-west1"}


def _config(*airflows: dict[str, Any]) -> WatchdogConfig:
    return WatchdogConfig.model_validate(
        {
            "airflow": list(airflows),
            "request_timeout": "300ms",
            "pass_timeout": "1500ms",
            "lookback": "1h",
            "limits": {"report_grace": "10s"},
        }
    )


def _pass(config: WatchdogConfig, emulator: Endpoint) -> list[Any]:
    watchdog = Watchdog(config, emulator)
    try:
        for watcher in watchdog._watchers.values():
            watcher.api.retry_wait_s = 0.05
        return watchdog.run_pass()
    finally:
        watchdog.close()


@pytest.fixture
def wires() -> Iterator[tuple[AirflowWire, AirflowWire]]:
    with ExitStack() as stack:
        yield (
            stack.enter_context(airflow_wire(AirflowWire())),
            stack.enter_context(airflow_wire(AirflowWire())),
        )


def test_a_hanging_airflow_and_an_odd_record_cost_only_themselves(
    wires: tuple[AirflowWire, AirflowWire],
    emulator: Endpoint,
    emulator_env: dict[str, str],
    project: str,
) -> None:
    good, hanging = wires
    hanging.fault = lambda path, query: None if path.endswith("/version") else Fault(hang=True)
    ended = datetime.now(timezone.utc) - timedelta(minutes=10)
    for dag_id in ("dag_a", "dag_b", "dag_c"):
        good.add(dag_id)
    good.tries[:] = [
        _failed_try("dag_a", ended),
        _failed_try("dag_b", ended, try_number="two", duration=float("nan")),
        _failed_try("dag_c", ended, start_date="0001-01-01T00:00:00+05:00", duration=-1),
        _failed_try(None, ended),  # type: ignore[arg-type]
    ]
    started = time.monotonic()
    reports = _pass(
        _config(_airflow(good, "good", project), _airflow(hanging, "hanging", project)), emulator
    )
    took = time.monotonic() - started
    by_name = {report.environment: report for report in reports}
    assert "pass_timeout" in (by_name["hanging"].error or "")
    assert by_name["good"].error is None, by_name["good"].error
    assert by_name["good"].seconds < 1.5
    assert took < 5
    failed = sorted(
        event["dag_id"]
        for event in read_events(emulator, project)
        if event["event_type"] == "task_failed"
    )
    # dag_b's try number is not a number: it cannot be named, so it is skipped (and logged).
    assert failed == ["dag_a", "dag_c"]


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
@given(secrets=st.fixed_dictionaries(SHAPED_SECRETS), cut_at=st.integers(min_value=0, max_value=40))
def test_no_secret_of_a_trace_or_a_log_reaches_cloud_logging(
    emulator: Endpoint,
    emulator_env: dict[str, str],
    secrets: dict[str, tuple[str, str]],
    cut_at: int,
) -> None:
    """Each shape at the end of a megabyte trace and of a log, where a traceback's last line
    is, the first one straddling the 300th character, where the watchdog cuts that line."""
    project = f"test-{uuid.uuid4().hex[:12]}"
    texts = [text for text, _ in secrets.values()]
    last = "ValueError: " + "x" * (299 - len("ValueError: ") - cut_at) + " " + " ".join(texts)
    ended = datetime.now(timezone.utc) - timedelta(minutes=10)
    with airflow_wire(AirflowWire()) as wire:
        wire.add("dag_a")
        wire.tries[:] = [_failed_try("dag_a", ended)]
        wire.logs[("dag_a", "scheduled__2026-12-07T06:00:00+00:00", "load", 1)] = "\n".join(
            [*texts, "Traceback (most recent call last):", last]
        )
        trace = "Traceback:\n" + "  File x.py, line 1\n" * 50_000 + "\n".join(texts) + "\n" + last
        wire.import_errors[:] = [
            {"filename": "/dags/a.py", "stack_trace": trace, "timestamp": _at(ended)}
        ]
        reports = _pass(_config(_airflow(wire, "secrets", project)), emulator)
    assert reports[0].error is None, reports[0].error
    events = read_events(emulator, project)
    assert {event["event_type"] for event in events} == {"task_failed", "dag_import_error"}
    written = json.dumps(
        [{**event, "entry": None} for event in events]
        + [
            {"labels": event["entry"].labels, "insert_id": event["entry"].insert_id}
            for event in events
        ]
    )
    for shape, (_, core) in secrets.items():
        assert core[:8] not in written, shape


def test_odd_composer_environments_and_a_failing_source_cost_only_themselves(
    emulator: Endpoint, emulator_env: dict[str, str], project: str
) -> None:
    """Environments without an Airflow URI, with one that is not a URL, in a state with no
    Airflow to read, or with an odd image version; and a source naming an environment that
    does not exist: the good environment is watched all the same."""
    parent = f"projects/{project}/locations/europe-west1"
    with airflow_wire(AirflowWire()) as wire:
        bodies: dict[str, dict[str, Any]] = {
            "good": {
                "config": {
                    "airflowUri": wire.url,
                    "softwareConfig": {"imageVersion": "composer-9-airflow-banana"},
                }
            },
            "no-uri": {"config": {}},
            "odd-uri": {"config": {"airflowUri": "not a url\x00"}},
            "broken": {"config": {"airflowUri": wire.url}, "state": "ERROR"},
            "creating": {"config": {"airflowUri": wire.url}, "state": "CREATING"},
        }
        for name, body in bodies.items():
            answer = httpx.put(
                f"{emulator.http_url}/v1/emulator/{parent}/environments/{name}",
                json=body,
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
        config = WatchdogConfig.model_validate(
            {
                "composer": [
                    {"project": project, "location": "europe-west1"},
                    {"project": project, "location": "asia1", "environments": ["missing"]},
                ],
                "request_timeout": "1s",
            }
        )
        reports = _pass(config, emulator)
    by_name = {report.environment: report.error for report in reports}
    assert set(by_name) == {"good", f"(environments of {project}/asia1)"}
    assert by_name["good"] is None
    assert "missing" in str(by_name[f"(environments of {project}/asia1)"])
