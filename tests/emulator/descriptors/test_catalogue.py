"""The packaged catalogue: it loads, holds what the issue asks for, and says where it came from."""

from __future__ import annotations

from google.api import metric_pb2

from observability.emulator.descriptors import regenerate
from observability.emulator.descriptors.catalogue import builtins
from observability.emulator.descriptors.rules import aligner_fits

REQUIRED_RESOURCES = {
    "global",
    "gce_instance",
    "k8s_container",
    "k8s_pod",
    "k8s_node",
    "cloud_run_revision",
    "bigquery_project",
    "pubsub_topic",
    "pubsub_subscription",
    "gcs_bucket",
    "cloudsql_database",
    "cloud_composer_environment",
    "cloud_composer_workflow",
}
Kind = metric_pb2.MetricDescriptor.MetricKind
Value = metric_pb2.MetricDescriptor.ValueType


def test_the_catalogue_holds_the_resources_and_domains_asked_for() -> None:
    catalogue = builtins()
    assert set(catalogue.resources) >= REQUIRED_RESOURCES
    assert [label.key for label in catalogue.resources["gce_instance"].labels] == [
        "project_id",
        "instance_id",
        "zone",
    ]
    composer = [t for t in catalogue.metrics if t.startswith("composer.googleapis.com/")]
    logging = [t for t in catalogue.metrics if t.startswith("logging.googleapis.com/")]
    assert len(composer) >= 17 and len(logging) >= 3
    healthy = catalogue.metrics["composer.googleapis.com/environment/healthy"]
    assert (healthy.metric_kind, healthy.value_type) == (Kind.GAUGE, Value.BOOL)
    assert list(healthy.monitored_resource_types) == ["cloud_composer_environment"]


def test_every_builtin_is_a_combination_google_supports() -> None:
    """Kinds and value types the source gives are valid enum values, BOOL and STRING only
    GAUGE, and every metric names resources the catalogue knows or the source listed."""
    for descriptor in builtins().metrics.values():
        assert descriptor.metric_kind != Kind.METRIC_KIND_UNSPECIFIED, descriptor.type
        assert descriptor.value_type != Value.VALUE_TYPE_UNSPECIFIED, descriptor.type
        if descriptor.value_type in (Value.BOOL, Value.STRING):
            assert descriptor.metric_kind == Kind.GAUGE, descriptor.type
        assert descriptor.monitored_resource_types, descriptor.type
        assert set(descriptor.monitored_resource_types) <= set(builtins().resources)


def test_the_header_names_the_source_and_its_date() -> None:
    source = builtins().source
    assert source["repository"] == regenerate.SOURCE_REPOSITORY
    assert source["commit"] == regenerate.SOURCE_COMMIT
    assert source["commitDate"].startswith("2021-10-20")
    assert source["keptFromEmulator"] == ["global", "cloud_composer_workflow"]
    assert source["unusableSources"] == list(regenerate.UNUSABLE_SOURCES)


def test_build_merges_a_metric_listed_on_several_resources() -> None:
    document = {
        "gcp": [
            {
                "service": "gce_instance",
                "dimensions": [{"value": "label:resource.labels.zone"}],
                "metrics": [
                    {
                        "value": "metric:logging.googleapis.com/log_entry_count",
                        "gcpOptions": {"metricKind": "DELTA", "valueType": "INT64", "unit": "1"},
                        "dimensions": [{"value": "label:metric.labels.severity"}],
                    }
                ],
            },
            {
                "service": "k8s_pod",
                "metrics": [
                    {
                        "value": "metric:logging.googleapis.com/log_entry_count",
                        "gcpOptions": {"metricKind": "DELTA", "valueType": "INT64"},
                    },
                ],
            },
            {
                "service": "uncatalogued_resource",
                "metrics": [
                    {
                        "value": "metric:other.googleapis.com/x",
                        "gcpOptions": {"metricKind": "GAUGE", "valueType": "INT64"},
                    },
                ],
            },
        ]
    }
    metrics, resources = regenerate.build([document])
    assert [m["type"] for m in metrics] == ["logging.googleapis.com/log_entry_count"]
    assert metrics[0]["monitoredResourceTypes"] == ["gce_instance", "k8s_pod"]
    assert metrics[0]["labels"] == [{"key": "severity"}]
    assert resources == [
        {"type": "gce_instance", "labels": [{"key": "zone"}]},
        {"type": "k8s_pod", "labels": []},
    ]


def test_aligners_fit_kinds_as_google_documents() -> None:
    assert not aligner_fits("ALIGN_RATE", "GAUGE", "BOOL")
    assert not aligner_fits("ALIGN_DELTA", "GAUGE", "INT64")
    assert aligner_fits("ALIGN_FRACTION_TRUE", "GAUGE", "BOOL")
    assert aligner_fits("ALIGN_COUNT", "GAUGE", "BOOL")
    assert not aligner_fits("ALIGN_MEAN", "GAUGE", "BOOL")
    assert aligner_fits("ALIGN_RATE", "CUMULATIVE", "INT64")
    assert not aligner_fits("ALIGN_MEAN", "CUMULATIVE", "DOUBLE")
    assert aligner_fits("ALIGN_NONE", "CUMULATIVE", "DISTRIBUTION")
