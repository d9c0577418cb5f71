"""An hour of Composer activity in the emulator, so the default dashboards have data.

The default log metrics and alert policies are applied with provisioning (as
``make provision-metrics`` does); then an hour of events (DAG runs every ten minutes, task
successes, failures and retries, third-party calls with their outcomes and latencies) is
written through ``google.cloud.logging``'s hand-written client, timestamped across the hour
that ends at the emulator's "now", so every chart of the window has points.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from google.cloud.logging_v2.resource import Resource

from observability import gcp
from observability.events import Event
from observability.gcp import Endpoint
from observability.provision.api import Api
from observability.provision.apply import apply_plan
from observability.provision.plan import plan_from_api
from tests.provision.conftest import default_spec

DAGS = {"etl_daily": "data", "payments_sync": "payments", "report_hourly": "data"}
SERVICES = ("stripe", "s3")


def provision(endpoint: Endpoint, project: str) -> None:
    """The repository's metrics, channels, policies and dashboards, applied to ``project``."""
    api = Api(project, endpoint)
    try:
        assert apply_plan(plan_from_api(default_spec(project), api), api).ok
    finally:
        api.close()


def events(end: datetime, seed: int = 7) -> list[Event]:
    """An hour of events ending at ``end``: deterministic, so renders are comparable."""
    rng = random.Random(seed)
    found: list[dict[str, Any]] = []
    for minutes_ago in range(58, 0, -10):
        at = end - timedelta(minutes=minutes_ago)
        for offset, (dag, team) in enumerate(DAGS.items()):
            when = at + timedelta(minutes=offset)
            common = {"timestamp": when, "dag_id": dag, "team": team, "run_id": f"r{minutes_ago}"}
            failed = rng.random() < 0.3
            for task in ("extract", "load"):
                found.append(
                    {
                        **common,
                        "event_type": "task_succeeded",
                        "task_id": task,
                        "state": "success",
                        "duration_s": round(rng.uniform(2, 40), 1),
                    }
                )
            if rng.random() < 0.4:
                found.append(
                    {
                        **common,
                        "event_type": "task_up_for_retry",
                        "task_id": "publish",
                        "state": "up_for_retry",
                        "duration_s": 1.5,
                    }
                )
            found.append(
                {
                    **common,
                    "event_type": "task_failed" if failed else "task_succeeded",
                    "task_id": "publish",
                    "state": "failed" if failed else "success",
                    "duration_s": round(rng.uniform(1, 20), 1),
                }
            )
            found.append(
                {
                    **common,
                    "event_type": "dag_run_failed" if failed else "dag_run_succeeded",
                    "state": "failed" if failed else "success",
                    "duration_s": round(rng.uniform(60, 300), 1),
                }
            )
            for service in SERVICES:
                outcome = rng.choices(["success", "error", "timeout"], [8, 1, 1])[0]
                found.append(
                    {
                        **common,
                        "event_type": "third_party_call",
                        "task_id": "extract",
                        "third_party": {
                            "service": service,
                            "operation": "fetch",
                            "outcome": outcome,
                            "latency_ms": round(rng.uniform(50, 900), 1),
                        },
                    }
                )
    found += _watchdog_findings(end)
    return [Event.model_validate(fields) for fields in found]


def _watchdog_findings(end: datetime) -> list[dict[str, Any]]:
    """What the watchdog reports (no callback can): one of each kind its tile draws."""
    at = end - timedelta(minutes=25)
    common = {"detected_by": "watchdog", "dag_id": "etl_daily", "team": "data", "run_id": "r25"}
    return [
        {
            **common,
            "timestamp": at,
            "event_type": "task_failed",
            "task_id": "load",
            "try_number": 1,
            "state": "failed",
            "reason": "killed (likely out of memory)",
        },
        {
            **common,
            "timestamp": at + timedelta(minutes=2),
            "event_type": "task_stuck",
            "task_id": "extract",
            "try_number": 1,
            "finding": {"waiting_state": "queued", "elapsed_s": 960.0, "limit_s": 900.0},
        },
        {
            **common,
            "timestamp": at + timedelta(minutes=4),
            "event_type": "task_running_long",
            "task_id": "publish",
            "try_number": 1,
            "finding": {"elapsed_s": 1900.0, "limit_s": 1800.0, "limit_source": "history"},
        },
        {
            **common,
            "timestamp": at + timedelta(minutes=6),
            "event_type": "dag_run_late",
            "finding": {"deadline_reference": "queued_at", "elapsed_s": 4000.0},
        },
        {
            "detected_by": "watchdog",
            "team": "data",
            "timestamp": at + timedelta(minutes=8),
            "event_type": "dag_import_error",
            "reason": "ModuleNotFoundError: No module named 'pandsa'",
            "finding": {"file": "dags/etl_daily.py"},
        },
    ]


def write_events(endpoint: Endpoint, project: str, end: datetime) -> int:
    """Write :func:`events` as the callbacks would; returns how many."""
    client = gcp.logging_client(project, endpoint)
    resource = Resource(
        type="cloud_composer_environment",
        labels={"project_id": project, "location": "us-central1", "environment_name": "env1"},
    )
    batch = client.logger("composer-observability").batch()
    written = events(end)
    for event in written:
        batch.log_struct(
            {**event.payload(), "project_id": project, "environment_name": "env1"},
            resource=resource,
            severity=event.severity,
            timestamp=event.timestamp,
        )
    batch.commit()
    return len(written)
