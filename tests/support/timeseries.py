"""Reading a log-based metric's series back through the real Monitoring client, for tests."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from observability import gcp
from observability.gcp import Endpoint

USER_METRIC = "logging.googleapis.com/user/"

LabelKey = tuple[tuple[str, str], ...]


def labels(**values: str) -> LabelKey:
    return tuple(sorted(values.items()))


def metric_counts(
    endpoint: Endpoint, project: str, metric: str, start: datetime, end: datetime
) -> Counter[LabelKey]:
    """Total count per label set of ``metric`` (counters: the values; distributions: the
    number of values), over every point in [start, end]."""
    monitoring = gcp.monitoring_metric_api(endpoint)
    found: Counter[LabelKey] = Counter()
    try:
        for one in monitoring.list_time_series(
            request={
                "name": f"projects/{project}",
                "filter": f'metric.type="{USER_METRIC}{metric}"',
                "interval": {"start_time": start, "end_time": end},
            }
        ):
            key = tuple(sorted(one.metric.labels.items()))
            for point in one.points:
                value = point.value
                found[key] += (
                    value.distribution_value.count
                    if "distribution_value" in value
                    else value.int64_value
                )
    finally:
        monitoring.transport.close()
    return +found
