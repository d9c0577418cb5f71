"""``groupByFields`` in every spelling Google accepts: the short ``resource.zone`` that
Google's samples and the client's ``Query.reduce`` use, ``resource.label(s).zone``, and the
same forms for metric labels; all through the real Monitoring client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from google.api_core import exceptions
from google.cloud.monitoring_v3 import MetricServiceClient
from google.cloud.monitoring_v3.query import Query

from observability.gcp import Endpoint
from tests.emulator.helpers import emulator_now

pytestmark = pytest.mark.integration

METRIC = "custom.googleapis.com/emulator/cpu"
SERIES = [  # zone, instance, kind of work, value
    ("us-central1-a", "1", "batch", 1.0),
    ("us-central1-a", "2", "web", 2.0),
    ("europe-west1-b", "3", "batch", 4.0),
]


@pytest.fixture
def written(monitoring: MetricServiceClient, emulator: Endpoint, project: str) -> Query:
    """Three gce_instance series in two zones, and a Query over the last five minutes."""
    now = emulator_now(emulator)
    monitoring.create_time_series(
        request={
            "name": f"projects/{project}",
            "time_series": [
                {
                    "metric": {"type": METRIC, "labels": {"work": work}},
                    "resource": {
                        "type": "gce_instance",
                        "labels": {"project_id": project, "zone": zone, "instance_id": ident},
                    },
                    "points": [
                        {
                            "interval": {"end_time": now - timedelta(minutes=1)},
                            "value": {"double_value": value},
                        }
                    ],
                }
                for zone, ident, work, value in SERIES
            ],
        }
    )
    return Query(monitoring, project, METRIC, end_time=now, minutes=5).align(
        "ALIGN_MEAN", minutes=5
    )


def sums(query: Query, label_of: str) -> dict[str, float]:
    out = {}
    for series in query:
        labels = series.resource.labels if label_of == "resource" else series.metric.labels
        (point,) = series.points
        out[",".join(f"{k}={v}" for k, v in sorted(labels.items()))] = point.value.double_value
    return out


@pytest.mark.parametrize("field", ["resource.zone", "resource.label.zone", "resource.labels.zone"])
def test_query_reduce_by_zone_in_every_spelling(written: Query, field: str) -> None:
    reduced = written.reduce("REDUCE_SUM", field)

    assert sums(reduced, "resource") == {"zone=europe-west1-b": 4.0, "zone=us-central1-a": 3.0}


@pytest.mark.parametrize("field", ["metric.work", "metric.label.work", "metric.labels.work"])
def test_metric_labels_in_every_spelling(written: Query, field: str) -> None:
    reduced = written.reduce("REDUCE_SUM", field)

    assert sums(reduced, "metric") == {"work=batch": 5.0, "work=web": 2.0}


def test_short_forms_mix_with_the_long_ones(written: Query) -> None:
    reduced = written.reduce("REDUCE_MAX", "resource.zone", "metric.label.work")

    assert len(list(reduced)) == 3


@pytest.mark.parametrize("field", ["resource.", "metric", "zone", "resource.label.", "metrics.x"])
def test_malformed_fields_are_refused_naming_the_field(written: Query, field: str) -> None:
    with pytest.raises(exceptions.InvalidArgument, match="group_by_fields"):
        list(written.reduce("REDUCE_SUM", field))
