"""MetricService's descriptor methods through the real google-cloud-monitoring client (gRPC;
the emulator serves no REST for Monitoring's descriptors, nor does it for time series) against
the emulator process: Google's built-ins, user-defined descriptors created and deleted,
monitored-resource descriptors, paging, and hostile input refused by name."""

from __future__ import annotations

import string
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from google.api import label_pb2, metric_pb2
from google.api_core import exceptions
from google.cloud import monitoring_v3
from google.cloud.monitoring_v3 import MetricServiceClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observability import gcp
from observability.emulator.descriptors.catalogue import builtins
from observability.gcp import Endpoint
from tests.emulator.helpers import emulator_now

pytestmark = pytest.mark.integration

Kind = metric_pb2.MetricDescriptor.MetricKind
Value = metric_pb2.MetricDescriptor.ValueType
CUSTOM = "custom.googleapis.com/composer_obs/queue_depth"


@pytest.fixture(scope="module")
def client(emulator: Endpoint) -> Iterator[MetricServiceClient]:
    made = gcp.monitoring_metric_api(emulator)
    yield made
    made.transport.close()


def custom(metric_type: str = CUSTOM, **fields: Any) -> metric_pb2.MetricDescriptor:
    return metric_pb2.MetricDescriptor(
        type=metric_type,
        metric_kind=fields.pop("metric_kind", Kind.GAUGE),
        value_type=fields.pop("value_type", Value.INT64),
        **fields,
    )


def test_builtins_are_listed_and_got(client: MetricServiceClient, project: str) -> None:
    composer = list(
        client.list_metric_descriptors(
            request={
                "name": f"projects/{project}",
                "filter": 'metric.type = starts_with("composer.googleapis.com/")',
            }
        )
    )
    expected = sorted(t for t in builtins().metrics if t.startswith("composer.googleapis.com/"))
    assert [d.type for d in composer] == expected
    healthy = client.get_metric_descriptor(
        name=f"projects/{project}/metricDescriptors/composer.googleapis.com/environment/healthy"
    )
    assert healthy.name.startswith(f"projects/{project}/metricDescriptors/")
    assert (healthy.metric_kind, healthy.value_type) == (Kind.GAUGE, Value.BOOL)
    assert list(healthy.monitored_resource_types) == ["cloud_composer_environment"]
    exported = client.get_metric_descriptor(
        name=f"projects/{project}/metricDescriptors/logging.googleapis.com/exports/byte_count"
    )
    assert (exported.metric_kind, exported.unit) == (Kind.DELTA, "By")
    with pytest.raises(exceptions.NotFound):
        client.get_metric_descriptor(
            name=f"projects/{project}/metricDescriptors/composer.googleapis.com/no/such"
        )


def test_listing_pages_without_loss_or_repeat(client: MetricServiceClient, project: str) -> None:
    everything = [d.type for d in client.list_metric_descriptors(name=f"projects/{project}")]
    assert everything == sorted(set(everything))
    assert len(everything) >= len(builtins().metrics)
    pages = client.list_metric_descriptors(
        request={"name": f"projects/{project}", "page_size": 97}
    ).pages
    sizes = [len(page.metric_descriptors) for page in pages]
    assert max(sizes) == 97 and sum(sizes) == len(everything)
    with pytest.raises(exceptions.InvalidArgument, match="page_token"):
        list(
            client.list_metric_descriptors(
                request={"name": f"projects/{project}", "page_token": "bm90LWEtdG9rZW4"}
            )
        )


def test_user_defined_descriptor_lifecycle(client: MetricServiceClient, project: str) -> None:
    parent = f"projects/{project}"
    name = f"{parent}/metricDescriptors/{CUSTOM}"
    created = client.create_metric_descriptor(
        name=parent,
        metric_descriptor=custom(
            labels=[label_pb2.LabelDescriptor(key="dag_id", description="the DAG")],
            description="Tasks waiting",
            unit="1",
        ),
    )
    assert created.name == name and created.description == "Tasks waiting"
    assert client.get_metric_descriptor(name=name).labels[0].key == "dag_id"
    listed = client.list_metric_descriptors(
        request={"name": parent, "filter": 'metric.type = starts_with("custom.googleapis.com/")'}
    )
    assert [d.type for d in listed] == [CUSTOM]
    # Google updates an existing descriptor and never removes its labels.
    updated = client.create_metric_descriptor(
        name=parent,
        metric_descriptor=custom(labels=[label_pb2.LabelDescriptor(key="task_id")]),
    )
    assert sorted(label.key for label in updated.labels) == ["dag_id", "task_id"]
    other = f"test-other-{project}"
    with pytest.raises(exceptions.NotFound):
        client.get_metric_descriptor(name=f"projects/{other}/metricDescriptors/{CUSTOM}")
    client.delete_metric_descriptor(name=name)
    with pytest.raises(exceptions.NotFound):
        client.get_metric_descriptor(name=name)
    with pytest.raises(exceptions.NotFound):
        client.delete_metric_descriptor(name=name)


def test_builtins_cannot_be_created_or_deleted(client: MetricServiceClient, project: str) -> None:
    parent = f"projects/{project}"
    with pytest.raises(exceptions.InvalidArgument, match=r"metric_descriptor\.type"):
        client.create_metric_descriptor(
            name=parent, metric_descriptor=custom("composer.googleapis.com/environment/healthy")
        )
    for builtin in ("composer.googleapis.com/environment/healthy", "logging.googleapis.com/user/x"):
        with pytest.raises(exceptions.InvalidArgument, match="custom metric descriptors can be"):
            client.delete_metric_descriptor(name=f"{parent}/metricDescriptors/{builtin}")
    assert client.get_metric_descriptor(
        name=f"{parent}/metricDescriptors/composer.googleapis.com/environment/healthy"
    )


@pytest.mark.parametrize(
    ("descriptor", "field"),
    [
        (custom(metric_kind=Kind.DELTA), "metric_descriptor.metric_kind"),
        (custom(value_type=Value.STRING), "metric_descriptor.metric_kind"),
        (custom(metric_kind=Kind.METRIC_KIND_UNSPECIFIED), "metric_descriptor.metric_kind"),
        (
            custom(labels=[label_pb2.LabelDescriptor(key="9lives")]),
            "metric_descriptor.labels[0].key",
        ),
        (
            custom(labels=[label_pb2.LabelDescriptor(key=f"k{i}") for i in range(31)]),
            "metric_descriptor.labels",
        ),
        (custom("custom.googleapis.com/bad\npath"), "metric_descriptor.type"),
        (
            custom(labels=[label_pb2.LabelDescriptor(key=f"k{i}") for i in range(5_000)]),
            "metric_descriptor.labels",
        ),
        (
            custom(labels=[label_pb2.LabelDescriptor(key="a\x00b")]),
            "metric_descriptor.labels[0].key",
        ),
        (custom("custom.googleapis.com/" + "x" * 10_000), "metric_descriptor.type"),
    ],
)
def test_refusals_name_the_field(
    client: MetricServiceClient, project: str, descriptor: metric_pb2.MetricDescriptor, field: str
) -> None:
    with pytest.raises(exceptions.InvalidArgument) as caught:
        client.create_metric_descriptor(name=f"projects/{project}", metric_descriptor=descriptor)
    assert caught.value.message.startswith(f"Field {field} ")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.text(st.characters(codec="utf-8"), max_size=150),
    description=st.text(max_size=50),
)
def test_hostile_label_keys_are_refused_by_name_never_500(
    client: MetricServiceClient, project: str, key: str, description: str
) -> None:
    descriptor = custom(
        "custom.googleapis.com/fuzz",
        labels=[label_pb2.LabelDescriptor(key=key, description=description)],
    )
    valid = (
        0 < len(key) <= 100
        and key[0] in string.ascii_letters
        and all(c in string.ascii_letters + string.digits + "_" for c in key)
    )
    try:
        client.create_metric_descriptor(name=f"projects/{project}", metric_descriptor=descriptor)
    except exceptions.InvalidArgument as error:
        assert not valid
        assert error.message.startswith("Field metric_descriptor.labels[0].key ")
    else:
        assert valid


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.text(st.characters(codec="utf-8"), max_size=300),
    prefix=st.sampled_from(["custom.googleapis.com/", "workload.googleapis.com/", "", "x/"]),
)
def test_deleting_any_name_answers_not_found_or_invalid_never_500(
    client: MetricServiceClient, project: str, path: str, prefix: str
) -> None:
    try:
        client.delete_metric_descriptor(name=f"projects/{project}/metricDescriptors/{prefix}{path}")
    except (exceptions.NotFound, exceptions.InvalidArgument):
        pass
    else:
        raise AssertionError("nothing was there to delete")


def test_monitored_resource_descriptors(client: MetricServiceClient, project: str) -> None:
    parent = f"projects/{project}"
    everything = [r.type for r in client.list_monitored_resource_descriptors(name=parent)]
    assert everything == sorted(builtins().resources)
    kubernetes = client.list_monitored_resource_descriptors(
        request={"name": parent, "filter": 'resource.type = starts_with("k8s_")'}
    )
    assert [r.type for r in kubernetes] == ["k8s_container", "k8s_node", "k8s_pod"]
    workflow = client.get_monitored_resource_descriptor(
        name=f"{parent}/monitoredResourceDescriptors/cloud_composer_workflow"
    )
    assert workflow.name == f"{parent}/monitoredResourceDescriptors/cloud_composer_workflow"
    assert [label.key for label in workflow.labels][-1] == "workflow_name"
    with pytest.raises(exceptions.NotFound):
        client.get_monitored_resource_descriptor(
            name=f"{parent}/monitoredResourceDescriptors/no_such_resource"
        )
    with pytest.raises(exceptions.InvalidArgument, match="filter"):
        list(
            client.list_monitored_resource_descriptors(
                request={"name": parent, "filter": "resource.type = ("}
            )
        )


def test_methods_not_served_answer_unimplemented(client: MetricServiceClient, project: str) -> None:
    with pytest.raises(exceptions.MethodNotImplemented):
        client.create_service_time_series(name=f"projects/{project}", time_series=[])


def test_a_descriptor_created_by_a_write_is_deleted_with_its_series(
    client: MetricServiceClient, project: str, emulator: Endpoint
) -> None:
    """Google deletes an auto-created descriptor and its data; a later write auto-creates it
    afresh, which is how a descriptor auto-created with the wrong kind is fixed
    (google/exposure-notifications-verification-server#1064)."""
    metric_type = "custom.googleapis.com/composer_obs/written"
    parent = f"projects/{project}"
    name = f"{parent}/metricDescriptors/{metric_type}"

    def write(value: dict[str, Any]) -> None:
        series = monitoring_v3.TimeSeries(
            metric={"type": metric_type},
            resource={"type": "global", "labels": {"project_id": project}},
            points=[{"interval": {"end_time": emulator_now(emulator)}, "value": value}],
        )
        client.create_time_series(name=parent, time_series=[series])

    def series_count() -> int:
        now = emulator_now(emulator)
        listed = client.list_time_series(
            request={
                "name": parent,
                "filter": f'metric.type = "{metric_type}"',
                "interval": {"start_time": now - timedelta(minutes=10), "end_time": now},
            }
        )
        return len(list(listed))

    write({"double_value": 1.5})
    written = client.get_metric_descriptor(name=name)
    assert (written.metric_kind, written.value_type) == (Kind.GAUGE, Value.DOUBLE)
    assert series_count() == 1
    client.delete_metric_descriptor(name=name)
    with pytest.raises(exceptions.NotFound):
        client.get_metric_descriptor(name=name)
    assert series_count() == 0
    with pytest.raises(exceptions.NotFound, match="does not exist"):
        client.delete_metric_descriptor(name=name)
    write({"int64_value": 7})
    rewritten = client.get_metric_descriptor(name=name)
    assert (rewritten.metric_kind, rewritten.value_type) == (Kind.GAUGE, Value.INT64)


def test_deleting_a_created_descriptor_drops_what_was_written_to_it(
    client: MetricServiceClient, project: str, emulator: Endpoint
) -> None:
    parent = f"projects/{project}"
    client.create_metric_descriptor(name=parent, metric_descriptor=custom())
    series = monitoring_v3.TimeSeries(
        metric={"type": CUSTOM},
        resource={"type": "global", "labels": {"project_id": project}},
        points=[{"interval": {"end_time": emulator_now(emulator)}, "value": {"int64_value": 3}}],
    )
    client.create_time_series(name=parent, time_series=[series])
    client.delete_metric_descriptor(name=f"{parent}/metricDescriptors/{CUSTOM}")
    listed = client.list_metric_descriptors(
        request={"name": parent, "filter": 'metric.type = starts_with("custom.googleapis.com/")'}
    )
    assert list(listed) == []
