"""An hour of Composer system metrics seeded into the emulator, for the conformance dashboard.

What to seed is read from the dashboard itself: every chart's ``metric.type`` and
``resource.type``. A metric aligned with ALIGN_RATE is a counter (CUMULATIVE INT64, growing),
any other a gauge (GAUGE DOUBLE). Points go through the emulator's admin
``POST /v1/emulator/projects/P/timeSeries:seed`` (the body of Monitoring's REST
``projects.timeSeries.create``), one point of every series per request, in time order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from observability.gcp import Endpoint

STEP = timedelta(minutes=5)
RESOURCE_LABELS = {
    "cloud_composer_environment": {"location": "us-central1", "environment_name": "prod"},
    "cloud_composer_workflow": {
        "location": "us-central1",
        "environment_name": "prod",
        "workflow_name": "etl_daily",
    },
}


@dataclass(frozen=True)
class Metric:
    type: str
    resource: str
    counter: bool


def charted_metrics(dashboard: Path) -> list[Metric]:
    """The metrics the dashboard's charts query, with how each is aligned."""
    found: dict[str, Metric] = {}
    text = json.loads(dashboard.read_text(encoding="utf-8"))
    for tile in text["mosaicLayout"]["tiles"]:
        for data_set in tile["widget"].get("xyChart", {}).get("dataSets", []):
            query = data_set["timeSeriesQuery"]["timeSeriesFilter"]
            metric = re.search(r'metric\.type="([^"]+)"', query["filter"])
            resource = re.search(r'resource\.type="([^"]+)"', query["filter"])
            assert metric and resource, query["filter"]
            rate = query.get("aggregation", {}).get("perSeriesAligner") == "ALIGN_RATE"
            found[metric.group(1)] = Metric(metric.group(1), resource.group(1), rate)
    return list(found.values())


def _series(metric: Metric, project: str, start: datetime, at: datetime, step: int) -> Any:
    stamp = at.isoformat().replace("+00:00", "Z")
    if metric.counter:
        interval = {"startTime": start.isoformat().replace("+00:00", "Z"), "endTime": stamp}
        value: dict[str, Any] = {"int64Value": str(3 * step + step % 4)}
    else:
        interval = {"endTime": stamp}
        value = {"doubleValue": 2.0 + (step % 6) + sum(map(ord, metric.type)) % 7}
    return {
        "metric": {"type": metric.type, "labels": {}},
        "resource": {
            "type": metric.resource,
            "labels": {"project_id": project, **RESOURCE_LABELS[metric.resource]},
        },
        "metricKind": "CUMULATIVE" if metric.counter else "GAUGE",
        "valueType": "INT64" if metric.counter else "DOUBLE",
        "points": [{"interval": interval, "value": value}],
    }


def seed_hour(endpoint: Endpoint, project: str, dashboard: Path, end: datetime) -> int:
    """Seed a point every ``STEP`` over the hour before ``end``; returns the points written."""
    metrics = charted_metrics(dashboard)
    start = end - timedelta(hours=1)
    url = f"{endpoint.http_url}/v1/emulator/projects/{project}/timeSeries:seed"
    written = 0
    with httpx.Client(timeout=30) as client:
        step, at = 1, start + STEP
        while at <= end:
            body = {"timeSeries": [_series(m, project, start, at, step) for m in metrics]}
            reply = client.post(url, json=body)
            assert reply.status_code == 200, reply.text
            written += int(reply.json()["timeSeriesWritten"])
            step, at = step + 1, at + STEP
    return written
