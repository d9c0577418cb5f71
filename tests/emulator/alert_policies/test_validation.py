"""Table-driven: each documented alert policy rule, refused and accepted, through the real
client against the emulator process. A refusal must be INVALID_ARGUMENT (NOT_FOUND for a
channel that does not exist) with a message naming the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud.monitoring_v3 import AlertPolicyServiceClient, NotificationChannelServiceClient
from google.cloud.monitoring_v3.types import AlertPolicy, NotificationChannel

pytestmark = pytest.mark.integration

Body = dict[str, Any]

METRIC_FILTER = (
    'resource.type="cloud_composer_environment" AND '
    'metric.type="logging.googleapis.com/user/composer_obs/task_failures"'
)


def threshold(**changes: Any) -> Body:
    cond: Body = {
        "filter": METRIC_FILTER,
        "aggregations": [
            {
                "alignmentPeriod": "60s",
                "perSeriesAligner": "ALIGN_DELTA",
                "crossSeriesReducer": "REDUCE_SUM",
                "groupByFields": ["metric.label.dag_id"],
            }
        ],
        "comparison": "COMPARISON_GT",
        "thresholdValue": 0,
        "duration": "0s",
    }
    cond.update(changes)
    return {"displayName": "threshold", "conditionThreshold": cond}


def absent(duration: str | None = "300s") -> Body:
    cond: Body = {"filter": METRIC_FILTER}
    if duration is not None:
        cond["duration"] = duration
    return {"displayName": "absent", "conditionAbsent": cond}


def matched_log(
    filter_: str = 'severity>=ERROR jsonPayload.event="task_failed"', **kw: Any
) -> Body:
    return {"displayName": "log match", "conditionMatchedLog": {"filter": filter_, **kw}}


def base() -> Body:
    return {"displayName": "policy", "combiner": "OR", "conditions": [threshold()]}


def log_policy(**strategy: Any) -> Body:
    body: Body = {"displayName": "log policy", "combiner": "OR", "conditions": [matched_log()]}
    if strategy:
        body["alertStrategy"] = strategy
    return body


def edit(**changes: Any) -> Callable[[], Body]:
    def make() -> Body:
        body = base()
        for key, value in changes.items():
            if value is None:
                body.pop(key, None)
            else:
                body[key] = value
        return body

    return make


def with_threshold(**changes: Any) -> Callable[[], Body]:
    """The base policy with its threshold condition changed."""
    return edit(conditions=[threshold(**changes)])


def labels(count: int) -> dict[str, str]:
    return {f"k{i}": "v" for i in range(count)}


RATE_LIMIT = {"notificationRateLimit": {"period": "300s"}}
OK = None

# (id, policy maker, None if accepted else a regex the refusal message must match)
CASES: list[tuple[str, Callable[[], Body], str | None]] = [
    ("display_name missing", edit(displayName=None), r"display_name is required"),
    ("display_name 512 chars", edit(displayName="x" * 512), OK),
    ("display_name 513 chars", edit(displayName="x" * 513), r"alert_policy\.display_name"),
    (
        "content 8192 chars",
        edit(documentation={"content": "x" * 8192, "mimeType": "text/markdown"}),
        OK,
    ),
    (
        "content 8193 chars",
        edit(documentation={"content": "x" * 8193, "mimeType": "text/markdown"}),
        r"documentation\.content",
    ),
    (
        "mime type text/html",
        edit(documentation={"content": "x", "mimeType": "text/html"}),
        r"documentation\.mime_type",
    ),
    (
        "subject over 255 bytes is truncated, not refused",
        edit(documentation={"content": "x", "mimeType": "text/markdown", "subject": "s" * 300}),
        OK,
    ),
    (
        "subject over 10240 bytes",
        edit(documentation={"content": "x", "mimeType": "text/markdown", "subject": "s" * 10241}),
        r"documentation\.subject",
    ),
    (
        "3 links",
        edit(documentation={"links": [{"displayName": "l", "url": "https://e.x"}] * 3}),
        OK,
    ),
    (
        "4 links",
        edit(documentation={"links": [{"displayName": "l", "url": "https://e.x"}] * 4}),
        r"documentation\.links",
    ),
    ("64 user labels", edit(userLabels=labels(64)), OK),
    ("65 user labels", edit(userLabels=labels(65)), r"user_labels"),
    ("label key with dash", edit(userLabels={"managed-by": "composer-observability"}), OK),
    ("upper-case label key", edit(userLabels={"Team": "x"}), r"user_labels\['Team'\]"),
    ("label key starting with digit", edit(userLabels={"1team": "x"}), r"begin with a letter"),
    ("upper-case label value", edit(userLabels={"team": "Data"}), r"user_labels\['team'\]"),
    ("label value with a dot", edit(userLabels={"v": "1.2"}), r"user_labels\['v'\]"),
    ("label value 63 chars", edit(userLabels={"k": "v" * 63}), OK),
    ("label value 64 chars", edit(userLabels={"k": "v" * 64}), r"63 characters"),
    ("no condition", edit(conditions=[]), r"alert_policy\.conditions"),
    ("6 conditions", edit(conditions=[threshold()] * 6), OK),
    ("7 conditions", edit(conditions=[threshold()] * 7), r"alert_policy\.conditions"),
    (
        "2 conditions without combiner",
        edit(conditions=[threshold()] * 2, combiner=None),
        r"alert_policy\.combiner is required",
    ),
    (
        "2 conditions with AND_WITH_MATCHING_RESOURCE",
        edit(conditions=[threshold()] * 2, combiner="AND_WITH_MATCHING_RESOURCE"),
        OK,
    ),
    ("1 condition without combiner", edit(combiner=None), OK),
    (
        "condition without display name",
        edit(conditions=[{**threshold(), "displayName": ""}]),
        r"conditions\[0\]\.display_name is required",
    ),
    ("condition of no kind", edit(conditions=[{"displayName": "empty"}]), r"conditions\[0\]"),
    ("log match with rate limit", lambda: log_policy(**RATE_LIMIT), OK),
    (
        "log match without rate limit",
        lambda: log_policy(),
        r"alert_strategy\.notification_rate_limit\.period",
    ),
    (
        "log match with another condition",
        lambda: {**log_policy(**RATE_LIMIT), "conditions": [matched_log(), threshold()]},
        r"no other condition",
    ),
    (
        "log match filter that does not parse",
        lambda: {**log_policy(**RATE_LIMIT), "conditions": [matched_log("severity>=ERROR AND (")]},
        r"condition_matched_log\.filter.*position \d+",
    ),
    (
        "log match label extractors",
        lambda: {
            **log_policy(**RATE_LIMIT),
            "conditions": [
                matched_log(
                    labelExtractors={
                        "dag": "EXTRACT(jsonPayload.dag_id)",
                        "task": 'REGEXP_EXTRACT(jsonPayload.message, "task (\\\\w+)")',
                    }
                )
            ],
        },
        OK,
    ),
    (
        "log match bad label extractor",
        lambda: {
            **log_policy(**RATE_LIMIT),
            "conditions": [matched_log(labelExtractors={"dag": "jsonPayload.dag_id"})],
        },
        r"label_extractors",
    ),
    ("absent 120s", edit(conditions=[absent("120s")]), OK),
    ("absent 60s", edit(conditions=[absent("60s")]), r"condition_absent\.duration.*120"),
    ("absent 150s", edit(conditions=[absent("150s")]), r"condition_absent\.duration.*minute"),
    ("absent without duration", edit(conditions=[absent(None)]), r"condition_absent\.duration"),
    ("threshold 300s", with_threshold(duration="300s"), OK),
    (
        "threshold 90s",
        with_threshold(duration="90s"),
        r"condition_threshold\.duration.*minute",
    ),
    (
        "threshold without comparison",
        with_threshold(comparison="COMPARISON_UNSPECIFIED"),
        r"condition_threshold\.comparison is required",
    ),
    (
        "reducer with ALIGN_NONE",
        with_threshold(
            aggregations=[
                {
                    "alignmentPeriod": "60s",
                    "perSeriesAligner": "ALIGN_NONE",
                    "crossSeriesReducer": "REDUCE_SUM",
                }
            ]
        ),
        r"aggregations\[0\]\.per_series_aligner",
    ),
    (
        "aligner without alignment period",
        with_threshold(aggregations=[{"perSeriesAligner": "ALIGN_RATE"}]),
        r"aggregations\[0\]\.alignment_period is required",
    ),
    (
        "alignment period 30s",
        with_threshold(aggregations=[{"alignmentPeriod": "30s", "perSeriesAligner": "ALIGN_RATE"}]),
        r"aggregations\[0\]\.alignment_period.*60",
    ),
    (
        "no aggregation at all",
        with_threshold(aggregations=[]),
        OK,
    ),
    (
        "threshold filter without metric.type",
        with_threshold(filter='resource.type="gce_instance"'),
        r"condition_threshold\.filter.*metric type",
    ),
    (
        "threshold filter that does not parse",
        edit(conditions=[threshold(filter='metric.type="a" AND (')]),
        r"condition_threshold\.filter.*position",
    ),
    (
        "ratio with denominator",
        with_threshold(
            denominatorFilter=METRIC_FILTER,
            denominatorAggregations=[{"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_DELTA"}],
        ),
        OK,
    ),
    (
        "denominator filter without metric.type",
        with_threshold(denominatorFilter='resource.type="x"'),
        r"denominator_filter",
    ),
    (
        "evaluation missing data",
        with_threshold(duration="60s", evaluationMissingData="EVALUATION_MISSING_DATA_ACTIVE"),
        OK,
    ),
    (
        "MQL with another condition",
        edit(
            conditions=[
                {
                    "displayName": "mql",
                    "conditionMonitoringQueryLanguage": {"query": "fetch x", "duration": "60s"},
                },
                threshold(),
            ]
        ),
        r"no other condition",
    ),
    (
        "PromQL evaluation interval 45s",
        edit(
            conditions=[
                {
                    "displayName": "promql",
                    "conditionPrometheusQueryLanguage": {
                        "query": "up == 0",
                        "evaluationInterval": "45s",
                    },
                }
            ]
        ),
        r"evaluation_interval",
    ),
    (
        "PromQL with another condition is allowed",
        edit(
            conditions=[
                {
                    "displayName": "promql",
                    "conditionPrometheusQueryLanguage": {
                        "query": "up == 0",
                        "evaluationInterval": "60s",
                    },
                },
                threshold(),
            ]
        ),
        OK,
    ),
    ("severity CRITICAL", edit(severity="CRITICAL"), OK),
    (
        "malformed channel name",
        edit(notificationChannels=["my-channel"]),
        r"notification_channels\[0\]",
    ),
    (
        "prompt CLOSED",
        edit(alertStrategy={"notificationPrompts": ["OPENED", "CLOSED"], "autoClose": "1800s"}),
        OK,
    ),
]


def create(client: AlertPolicyServiceClient, project: str, body: Body) -> AlertPolicy:
    return client.create_alert_policy(
        name=f"projects/{project}", alert_policy=AlertPolicy.from_json(json.dumps(body))
    )


@pytest.mark.parametrize(("make", "refusal"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(
    policies: AlertPolicyServiceClient,
    project: str,
    make: Callable[[], Body],
    refusal: str | None,
) -> None:
    body = copy.deepcopy(make())
    if refusal is None:
        created = create(policies, project, body)
        assert created.name
    else:
        with pytest.raises(exceptions.InvalidArgument, match=refusal):
            create(policies, project, body)
        assert list(policies.list_alert_policies(name=f"projects/{project}")) == []


def test_unknown_severity_is_refused(policies: AlertPolicyServiceClient, project: str) -> None:
    policy = AlertPolicy.from_json(json.dumps(base()))
    AlertPolicy.pb(policy).severity = 7
    with pytest.raises(exceptions.InvalidArgument, match=r"alert_policy\.severity"):
        policies.create_alert_policy(name=f"projects/{project}", alert_policy=policy)


def test_channels_must_exist_in_the_project(
    policies: AlertPolicyServiceClient, channels: NotificationChannelServiceClient, project: str
) -> None:
    missing = base()
    missing["notificationChannels"] = [f"projects/{project}/notificationChannels/404"]
    with pytest.raises(exceptions.NotFound, match="Notification channel not found"):
        create(policies, project, missing)
    channel = channels.create_notification_channel(
        name=f"projects/{project}",
        notification_channel=NotificationChannel(
            type_="email", labels={"email_address": "oncall@example.com"}
        ),
    )
    present = base()
    present["notificationChannels"] = [channel.name]
    present["alertStrategy"] = {
        "notificationChannelStrategy": [
            {"notificationChannelNames": [channel.name], "renotifyInterval": "1800s"}
        ]
    }
    assert create(policies, project, present).notification_channels == [channel.name]
    elsewhere = base()
    elsewhere["notificationChannels"] = [channel.name]
    with pytest.raises(exceptions.InvalidArgument, match=r"notification_channels\[0\]"):
        create(policies, "another-project", elsewhere)
