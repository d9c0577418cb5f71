"""Alert evaluation in-process on a hand-moved clock: thresholds, durations, recovery,
autoClose, absence, ratios, log-match throttling and combiners.

Entries go through the Logging service and are counted by real log-based metrics; the
evaluator reads the series through the TimeSeriesEngine, exactly as in the server.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from google.cloud.logging_v2.types import CreateLogMetricRequest, WriteLogEntriesRequest
from google.protobuf import json_format

from observability.emulator.alert_policies.store import AlertPolicyStore
from observability.emulator.alerting.evaluator import AlertEvaluator
from observability.emulator.alerting.incidents import Incident, IncidentStore
from observability.emulator.channels.store import NotificationChannelStore
from observability.emulator.common.clock import Clock
from observability.emulator.log_entries.service import LoggingService
from observability.emulator.log_entries.store import LoggingStore
from observability.emulator.log_metrics.service import LogMetricsService
from observability.emulator.log_metrics.store import LogMetricsStore
from observability.emulator.time_series.engine import TimeSeriesEngine

PROJECT = "alerting-unit"
USER = "logging.googleapis.com/user/"
LOG = f"projects/{PROJECT}/logs/composer-observability"
RESOURCE = {"type": "cloud_composer_environment", "labels": {"environment_name": "env1"}}


class World:
    """The stores, services and evaluator of one emulator, with a clock the test moves."""

    def __init__(self, data_dir: Path) -> None:
        self.clock = Clock()
        # 5 s past a whole minute, an hour ago: entries written "now" land in one minute.
        minute = math.floor(time.time() / 60) * 60 - 3600
        self.clock.set(datetime.fromtimestamp(minute + 5, tz=timezone.utc))
        self.logging_store = LoggingStore(data_dir / "logging.db")
        self.logging = LoggingService(self.logging_store)
        self.metrics_store = LogMetricsStore(data_dir / "metrics.db")
        self.metrics = LogMetricsService(self.metrics_store, self.clock)
        self.logging.listeners.append(self.metrics.on_entries)
        self.policies = AlertPolicyStore(data_dir / "alert_policies.db")
        self.channels = NotificationChannelStore(data_dir / "channels.db")
        self.incidents = IncidentStore(data_dir / "incidents.db")
        self.evaluator = AlertEvaluator(
            self.clock,
            self.policies,
            self.channels,
            TimeSeriesEngine(self.metrics),
            self.incidents,
        )
        self.logging.listeners.append(self.evaluator.on_entries)
        self.evaluator.tick()
        self._next_id = 0

    def close(self) -> None:
        for store in (self.logging_store, self.metrics_store, self.policies, self.channels):
            store.close()
        self.incidents.close()

    def metric(self, name: str, event_type: str, *, labels: bool = True) -> None:
        body: dict[str, Any] = {
            "name": name,
            "filter": f'logName="{LOG}" AND jsonPayload.event_type="{event_type}"',
        }
        if labels:
            body["labelExtractors"] = {"dag_id": "EXTRACT(jsonPayload.dag_id)"}
            body["metricDescriptor"] = {
                "metricKind": "DELTA",
                "valueType": "INT64",
                "labels": [{"key": "dag_id", "valueType": "STRING"}],
            }
        request = CreateLogMetricRequest.pb()()
        json_format.ParseDict({"parent": f"projects/{PROJECT}", "metric": body}, request)
        self.metrics.create(request)

    def policy(self, body: dict[str, Any]) -> str:
        self._next_id += 1
        policy_id = str(self._next_id)
        body = {"displayName": f"policy {policy_id}", "combiner": "OR", "enabled": True, **body}
        with self.policies.transaction() as conn:
            self.policies.put(conn, PROJECT, policy_id, body)
        return policy_id

    def write(self, *events: tuple[str, str]) -> None:
        """Write (event_type, dag_id) events at the clock's now."""
        now = self.clock.now().isoformat().replace("+00:00", "Z")
        entries = [
            {
                "logName": LOG,
                "resource": RESOURCE,
                "timestamp": now,
                "jsonPayload": {"event_type": event_type, "dag_id": dag_id},
            }
            for event_type, dag_id in events
        ]
        request = WriteLogEntriesRequest.pb()()
        json_format.ParseDict({"entries": entries}, request)
        self.logging.write(request)

    def advance(self, seconds: float) -> dict[str, Any]:
        self.clock.advance(seconds)
        return self.evaluator.tick()

    def incidents_of(self, policy_id: str, state: str | None = None) -> list[Incident]:
        return [
            i for i in self.incidents.list_incidents(PROJECT, state) if i.policy_id == policy_id
        ]

    def open_dags(self, policy_id: str) -> list[str]:
        return sorted(
            i.detail["metric"]["labels"].get("dag_id", "")
            for i in self.incidents_of(policy_id, "open")
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    one = World(tmp_path)
    yield one
    one.close()


def threshold(
    metric: str,
    *,
    comparison: str = "COMPARISON_GT",
    value: float = 0,
    duration: str = "0s",
    period: str = "60s",
    missing: str | None = "EVALUATION_MISSING_DATA_INACTIVE",
    **extra: Any,
) -> dict[str, Any]:
    """A threshold on a log metric by DAG; missing data counts as not violating unless
    ``missing`` says otherwise (None: unset, the API's default)."""
    optional = {"evaluationMissingData": missing} if missing else {}
    return {
        "displayName": f"{metric} {comparison} {value}",
        "conditionThreshold": {
            "filter": f'metric.type="{USER}{metric}" '
            'AND resource.type="cloud_composer_environment"',
            "aggregations": [
                {
                    "alignmentPeriod": period,
                    "perSeriesAligner": "ALIGN_DELTA",
                    "crossSeriesReducer": "REDUCE_SUM",
                    "groupByFields": ["metric.label.dag_id"],
                }
            ],
            "comparison": comparison,
            "thresholdValue": value,
            "duration": duration,
            **optional,
            **extra,
        },
    }


def test_threshold_opens_one_incident_per_dag_and_recovery_closes(world: World) -> None:
    world.metric("failures", "task_failed")
    pid = world.policy({"conditions": [threshold("failures")]})
    world.write(("task_failed", "a"), ("task_failed", "a"), ("task_failed", "b"))
    world.write(("task_succeeded", "c"))
    world.advance(60)
    assert world.open_dags(pid) == ["a", "b"]
    observed = {
        i.detail["metric"]["labels"]["dag_id"]: i.detail["observed_value"]
        for i in world.incidents_of(pid)
    }
    assert observed == {"a": "2", "b": "1"}
    world.advance(30)  # same evaluation time: nothing changes
    assert world.open_dags(pid) == ["a", "b"]
    world.advance(30)
    assert world.open_dags(pid) == []
    closed = world.incidents_of(pid, "closed")
    assert len(closed) == 2
    assert all(i.close_reason == "recovered" and i.ended_at for i in closed)


def test_threshold_below_and_missing_data_active(world: World) -> None:
    world.metric("successes", "task_succeeded")
    under = world.policy(
        {"conditions": [threshold("successes", comparison="COMPARISON_LT", value=2)]}
    )
    missing = world.policy(
        {
            "conditions": [
                threshold(
                    "successes",
                    comparison="COMPARISON_LT",
                    value=2,
                    evaluationMissingData="EVALUATION_MISSING_DATA_ACTIVE",
                )
            ]
        }
    )
    world.write(("task_succeeded", "a"), ("task_succeeded", "b"), ("task_succeeded", "b"))
    world.advance(60)
    assert world.open_dags(under) == ["a"]
    assert world.open_dags(missing) == ["a"]
    world.advance(60)  # no data at all: inactive closes, active keeps (and opens b)
    assert world.open_dags(under) == []
    assert world.open_dags(missing) == ["a", "b"]


def test_unset_missing_data_keeps_the_incident_until_auto_close_after_the_last_point(
    world: World,
) -> None:
    """Unset evaluationMissingData is NO_OP: a sparse log metric going quiet is no recovery;
    the incident closes once the series has had no data for autoClose."""
    world.metric("failures", "task_failed")
    condition = threshold("failures", missing=None)
    pid = world.policy({"conditions": [condition], "alertStrategy": {"autoClose": "1800s"}})
    world.write(("task_failed", "a"))
    world.advance(60)
    world.advance(600)
    world.write(("task_failed", "a"))  # ten minutes later: data again, the clock restarts
    world.advance(60)
    assert world.open_dags(pid) == ["a"]
    world.advance(1740)  # 29 minutes after the last point
    assert world.open_dags(pid) == ["a"]
    world.advance(60)
    assert world.open_dags(pid) == []
    (closed,) = world.incidents_of(pid, "closed")
    assert closed.close_reason == "autoClose"
    assert closed.ended_at == pytest.approx(closed.started_at + 660 + 1800)


def test_duration_must_hold_before_an_incident_opens(world: World) -> None:
    world.metric("failures", "task_failed")
    pid = world.policy({"conditions": [threshold("failures", duration="120s")]})
    opened_at = []
    for _ in range(4):
        world.write(("task_failed", "a"))
        world.advance(60)
        opened_at.append(world.open_dags(pid))
    assert opened_at == [[], [], ["a"], ["a"]]
    world.advance(60)
    assert world.open_dags(pid) == []


def test_a_gap_restarts_the_duration(world: World) -> None:
    world.metric("failures", "task_failed")
    pid = world.policy({"conditions": [threshold("failures", duration="60s")]})
    world.write(("task_failed", "a"))
    world.advance(60)
    world.advance(60)  # gap
    world.write(("task_failed", "a"))
    world.advance(60)
    assert world.open_dags(pid) == []
    world.write(("task_failed", "a"))
    world.advance(60)
    assert world.open_dags(pid) == ["a"]


def test_auto_close_and_no_reopen_until_recovered(world: World) -> None:
    world.metric("failures", "task_failed")
    condition = threshold("failures", evaluationMissingData="EVALUATION_MISSING_DATA_NO_OP")
    pid = world.policy({"conditions": [condition], "alertStrategy": {"autoClose": "1800s"}})
    world.write(("task_failed", "a"))
    world.advance(60)
    [incident] = world.incidents_of(pid, "open")
    world.advance(1200)  # NO_OP: missing data keeps it open
    assert world.open_dags(pid) == ["a"]
    world.advance(660)
    [closed] = world.incidents_of(pid, "closed")
    assert closed.id == incident.id and closed.close_reason == "autoClose"
    assert closed.ended_at == pytest.approx(incident.started_at + 1800)


def test_absent_condition_opens_for_a_silent_series_and_closes_on_data(world: World) -> None:
    world.metric("heartbeats", "heartbeat")
    pid = world.policy(
        {
            "conditions": [
                {
                    "displayName": "no heartbeat",
                    "conditionAbsent": {
                        "filter": f'metric.type="{USER}heartbeats"',
                        "aggregations": [
                            {
                                "alignmentPeriod": "60s",
                                "perSeriesAligner": "ALIGN_DELTA",
                                "crossSeriesReducer": "REDUCE_SUM",
                                "groupByFields": ["metric.label.dag_id"],
                            }
                        ],
                        "duration": "180s",
                    },
                }
            ]
        }
    )
    world.write(("heartbeat", "a"), ("heartbeat", "b"))
    world.advance(60)  # a's last point ends now
    for _ in range(2):
        world.write(("heartbeat", "b"))
        world.advance(60)
    assert world.open_dags(pid) == []
    world.write(("heartbeat", "b"))
    world.advance(60)  # no point of a for 180 s
    assert world.open_dags(pid) == ["a"]
    world.write(("heartbeat", "a"))
    world.advance(60)
    assert world.open_dags(pid) == []


def test_ratio_condition_divides_by_the_denominator_of_the_same_series(world: World) -> None:
    world.metric("failures", "task_failed")
    world.metric("finished", "task_finished")
    condition = threshold("failures", value=0.5)
    spec = condition["conditionThreshold"]
    spec["denominatorFilter"] = f'metric.type="{USER}finished"'
    spec["denominatorAggregations"] = spec["aggregations"]
    pid = world.policy({"conditions": [condition]})
    world.write(*[("task_finished", "a")] * 4, *[("task_finished", "b")] * 4)
    world.write(*[("task_failed", "a")] * 3, ("task_failed", "b"))
    world.write(("task_failed", "c"))  # no denominator: no value
    world.advance(60)
    assert world.open_dags(pid) == ["a"]
    [incident] = world.incidents_of(pid)
    assert incident.detail["observed_value"] == "0.75"
    assert incident.detail["threshold_value"] == "0.5"


def test_trigger_count_needs_that_many_violating_series(world: World) -> None:
    world.metric("failures", "task_failed")
    pid = world.policy({"conditions": [threshold("failures", trigger={"count": 2})]})
    world.write(("task_failed", "a"))
    world.advance(60)
    assert world.open_dags(pid) == []
    world.write(("task_failed", "a"), ("task_failed", "b"))
    world.advance(60)
    assert world.open_dags(pid) == ["a", "b"]


def test_trigger_percent(world: World) -> None:
    world.metric("failures", "task_failed")
    pid = world.policy({"conditions": [threshold("failures", value=1, trigger={"percent": 50})]})
    world.write(("task_failed", "a"), ("task_failed", "a"), ("task_failed", "b"))
    world.write(("task_failed", "c"))
    world.advance(60)
    assert world.open_dags(pid) == []  # 1 of 3 series above 1
    world.write(*[("task_failed", "a")] * 2, *[("task_failed", "b")] * 2, ("task_failed", "c"))
    world.advance(60)
    assert world.open_dags(pid) == ["a", "b"]


def test_combiner_and_needs_every_condition_or_needs_one(world: World) -> None:
    world.metric("failures", "task_failed")
    world.metric("retries", "task_up_for_retry")
    conditions = [threshold("failures"), threshold("retries")]
    both = world.policy({"conditions": conditions, "combiner": "AND"})
    either = world.policy({"conditions": conditions, "combiner": "OR"})
    world.write(("task_failed", "a"))
    world.advance(60)
    assert world.open_dags(both) == []
    assert world.open_dags(either) == ["a"]
    world.write(("task_failed", "a"), ("task_up_for_retry", "b"))
    world.advance(60)
    assert world.open_dags(both) == ["a", "b"]
    assert world.open_dags(either) == ["a", "b"]
    world.write(("task_up_for_retry", "b"))
    world.advance(60)
    assert world.open_dags(both) == []
    assert world.open_dags(either) == ["b"]


def test_and_with_matching_resource(world: World) -> None:
    world.metric("failures", "task_failed")
    world.metric("retries", "task_up_for_retry")
    by_dag = [threshold("failures"), threshold("retries")]
    pid = world.policy({"conditions": by_dag, "combiner": "AND_WITH_MATCHING_RESOURCE"})
    world.write(("task_failed", "a"), ("task_up_for_retry", "a"))
    world.advance(60)
    # both series carry the same (empty, reduced-away) resource: they match
    assert world.open_dags(pid) == ["a", "a"]


def test_matched_log_opens_per_label_set_and_is_throttled(world: World) -> None:
    pid = world.policy(
        {
            "conditions": [
                {
                    "displayName": "task failed",
                    "conditionMatchedLog": {
                        "filter": 'jsonPayload.event_type="task_failed"',
                        "labelExtractors": {"dag": "EXTRACT(jsonPayload.dag_id)"},
                    },
                }
            ],
            "alertStrategy": {"notificationRateLimit": {"period": "300s"}, "autoClose": "1800s"},
        }
    )
    world.write(("task_failed", "a"), ("task_failed", "a"))
    world.write(("task_succeeded", "a"))
    [first] = world.incidents_of(pid)
    assert first.detail["extracted_labels"] == {"dag": "a"}
    world.clock.advance(60)
    world.write(("task_failed", "b"))  # within the rate limit period: throttled
    assert len(world.incidents_of(pid)) == 1
    world.clock.advance(300)
    world.write(("task_failed", "a"))  # a is still open: no second incident
    world.write(("task_failed", "b"))
    assert sorted(i.detail["extracted_labels"]["dag"] for i in world.incidents_of(pid)) == [
        "a",
        "b",
    ]
    world.advance(1500)
    closed = world.incidents_of(pid, "closed")
    assert [i.id for i in closed] == [first.id]
    assert closed[0].close_reason == "autoClose"


def test_promql_conditions_are_listed_as_not_evaluated(world: World) -> None:
    pid = world.policy(
        {
            "conditions": [
                {
                    "displayName": "promql",
                    "conditionPrometheusQueryLanguage": {"query": "up == 0", "duration": "60s"},
                }
            ]
        }
    )
    world.advance(60)
    described = world.evaluator.describe_project(PROJECT)
    assert described["incidents"] == []
    [item] = described["notEvaluated"]
    assert item["policy"] == f"projects/{PROJECT}/alertPolicies/{pid}"
    assert item["kind"] == "conditionPrometheusQueryLanguage"
    assert "not evaluated" in item["reason"]


def test_disabled_policy_closes_its_incidents(world: World) -> None:
    world.metric("failures", "task_failed")
    body = {"conditions": [threshold("failures")]}
    pid = world.policy(body)
    world.write(("task_failed", "a"))
    world.advance(60)
    assert world.open_dags(pid) == ["a"]
    with world.policies.transaction() as conn:
        world.policies.put(conn, PROJECT, pid, {**body, "displayName": "x", "enabled": False})
    world.advance(1)
    [closed] = world.incidents_of(pid)
    assert closed.state == "closed" and closed.close_reason == "policy disabled"


def test_an_open_incident_survives_lost_memory_while_still_violating(world: World) -> None:
    world.metric("failures", "task_failed")
    pid = world.policy({"conditions": [threshold("failures", duration="60s")]})
    for _ in range(2):
        world.write(("task_failed", "a"))
        world.advance(60)
    assert world.open_dags(pid) == ["a"]
    world.evaluator._states.clear()  # what a restart forgets
    world.write(("task_failed", "a"))
    world.advance(60)
    assert world.open_dags(pid) == ["a"]
    assert len(world.incidents_of(pid)) == 1


def test_matched_log_daily_limit(world: World) -> None:
    pid = world.policy(
        {
            "conditions": [
                {
                    "displayName": "any failure",
                    "conditionMatchedLog": {"filter": 'jsonPayload.event_type="task_failed"'},
                }
            ],
            "alertStrategy": {"notificationRateLimit": {"period": "60s"}, "autoClose": "60s"},
        }
    )
    for _ in range(25):
        world.write(("task_failed", "a"))
        world.advance(61)  # past the rate limit, and auto-closed
    assert len(world.incidents_of(pid)) == 20
