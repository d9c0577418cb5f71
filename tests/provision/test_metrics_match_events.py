"""The default metrics count the callbacks' events: events built with the project's own
schema (``Event``) and entry writer go into the emulator's Cloud Logging; the emulator's time
series of each default metric, read with the Monitoring client, count exactly those events,
with the labels the policies and dashboards group by."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from observability.emit.entry import EntryTarget, to_entry
from observability.emit.sink import LoggingSink
from observability.events import Event
from observability.gcp import Endpoint
from observability.provision.api import Api
from observability.provision.apply import apply_plan
from observability.provision.plan import plan_from_api
from tests.provision.conftest import default_spec
from tests.support.timeseries import LabelKey, labels, metric_counts

pytestmark = pytest.mark.integration


def _now(emulator: Endpoint) -> datetime:
    with urllib.request.urlopen(f"{emulator.http_url}/v1/emulator/clock", timeout=10) as r:
        text = json.loads(r.read())["now"]
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _events(when: datetime) -> list[Event]:
    common: dict[str, Any] = {"timestamp": when, "environment_name": "env1", "run_id": "r1"}
    raw: list[dict[str, Any]] = []
    for dag, team, task in [("etl", "data", "load"), ("etl", "data", "load"), ("pay", "fin", "x")]:
        raw.append(
            {
                "event_type": "task_failed",
                "dag_id": dag,
                "team": team,
                "task_id": task,
                "state": "failed",
                "duration_s": 2.5,
            }
        )
    raw.append(
        {
            "event_type": "task_up_for_retry",
            "dag_id": "etl",
            "team": "data",
            "task_id": "load",
            "state": "up_for_retry",
            "duration_s": 1.0,
        }
    )
    raw += [
        {
            "event_type": "task_succeeded",
            "dag_id": "pay",
            "team": "fin",
            "task_id": "x",
            "state": "success",
            "duration_s": 0.5,
        }
    ] * 4
    raw.append({"event_type": "task_started", "dag_id": "pay", "team": "fin", "task_id": "x"})
    raw.append(
        {
            "event_type": "dag_run_failed",
            "dag_id": "etl",
            "team": "data",
            "state": "failed",
            "duration_s": 30.0,
        }
    )
    raw.append(
        {
            "event_type": "dag_run_succeeded",
            "dag_id": "pay",
            "team": "fin",
            "state": "success",
            "duration_s": 12.0,
        }
    )
    for outcome, latency in [
        ("success", 100.0),
        ("success", 120.0),
        ("error", 900.0),
        ("timeout", 5000.0),
    ]:
        raw.append(
            {
                "event_type": "third_party_call",
                "dag_id": "pay",
                "team": "fin",
                "task_id": "x",
                "third_party": {
                    "service": "stripe",
                    "operation": "charge",
                    "outcome": outcome,
                    "latency_ms": latency,
                },
            }
        )
    return [Event.model_validate({**common, **fields}) for fields in raw]


def test_default_metrics_count_exactly_the_events(emulator: Endpoint, project: str) -> None:
    api = Api(project, emulator)
    assert apply_plan(plan_from_api(default_spec(project), api), api).ok
    api.close()

    now = _now(emulator)
    when = now.replace(second=0, microsecond=0) - timedelta(minutes=3)
    target = EntryTarget(project, "composer-observability", "us-central1", "env1")
    sink = LoggingSink(emulator)
    sink.write([to_entry(e, target, 250_000) for e in _events(when)], timeout=10)
    sink.close()

    def series(metric: str) -> Counter[LabelKey]:
        return metric_counts(
            emulator,
            project,
            f"composer_obs/{metric}",
            when - timedelta(minutes=5),
            now + timedelta(minutes=5),
        )

    assert series("task_failures") == {
        labels(dag_id="etl", task_id="load", team="data"): 2,
        labels(dag_id="pay", task_id="x", team="fin"): 1,
    }
    assert series("task_retries") == {labels(dag_id="etl", task_id="load", team="data"): 1}
    assert series("task_successes") == {labels(dag_id="pay", task_id="x", team="fin"): 4}
    assert sum(series("task_duration").values()) == 7  # 3 failed + 4 succeeded, not started
    assert series("dag_run_failures") == {labels(dag_id="etl", team="data"): 1}
    assert series("dag_run_successes") == {labels(dag_id="pay", team="fin"): 1}
    assert sum(series("dag_run_duration").values()) == 2
    calls = series("third_party_calls")
    assert calls == {
        labels(service="stripe", operation="charge", outcome="success", team="fin"): 2,
        labels(service="stripe", operation="charge", outcome="error", team="fin"): 1,
        labels(service="stripe", operation="charge", outcome="timeout", team="fin"): 1,
    }
    assert sum(series("third_party_latency").values()) == 4
