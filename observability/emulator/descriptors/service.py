"""Metric and monitored-resource descriptors of a project: what MetricService's descriptor
methods answer.

A project sees four kinds of metric descriptor, merged by type: Google's built-ins (the
catalogue, the same in every project), the user-defined ones created with
CreateMetricDescriptor (``DescriptorStore``), and the ones other parts of the emulator imply
(log-based metrics ``logging.googleapis.com/user/NAME`` and the descriptors CreateTimeSeries
auto-creates), which ``implied`` supplies. A user-defined descriptor wins over an implied one of
the same type. Only user-defined descriptors can be deleted (with the series written to
them); built-ins cannot be created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import grpc
from google.api import metric_pb2, monitored_resource_pb2

from observability.emulator.common.errors import ApiError
from observability.emulator.common.monitoring_filter import (
    MonitoringFilterError,
    compile_monitoring_filter,
)
from observability.emulator.descriptors import rules
from observability.emulator.descriptors.catalogue import Catalogue
from observability.emulator.descriptors.store import DescriptorStore

Implied = Callable[[str], list[metric_pb2.MetricDescriptor]]
"""``project -> descriptors`` other services imply (``project`` is ``P``, not ``projects/P``)."""
Forget = Callable[[str, str], bool]
"""``(project, metric type) -> whether there was one``: deletes the descriptor CreateTimeSeries
auto-created and the series written to it (``WrittenSeriesService.delete_metric``)."""


def _forget_nothing(project: str, metric_type: str) -> bool:
    return False


MAX_USER_DEFINED: Final = 25_000
"""User-defined descriptors per project; Google's default quota ("metric descriptors per
project"), an emulator bound until checked against monitoring/quotas."""


def project_of(name: str, field: str = "name") -> str:
    """``P`` from ``projects/P``; INVALID_ARGUMENT naming ``field`` otherwise."""
    kind, _, ident = name.partition("/")
    if kind != "projects" or not ident or "/" in ident:
        raise rules.invalid(field, name, "must be projects/[PROJECT_ID_OR_NUMBER]")
    return ident


def _split_name(name: str, collection: str) -> tuple[str, str]:
    head, sep, ident = name.partition(f"/{collection}/")
    if not sep or not ident:
        raise rules.invalid(
            "name", name, f"must be projects/[PROJECT_ID_OR_NUMBER]/{collection}/[ID]"
        )
    return project_of(head), ident


def _compile(text: str) -> Callable[[dict[str, object]], bool]:
    try:
        return compile_monitoring_filter(text).matches
    except MonitoringFilterError as error:
        raise rules.invalid("filter", text, str(error)) from error


class DescriptorService:
    """The descriptor methods, over the catalogue, the store and the implied descriptors."""

    def __init__(
        self,
        catalogue: Catalogue,
        store: DescriptorStore,
        implied: Implied,
        forget: Forget = _forget_nothing,
    ) -> None:
        self.catalogue = catalogue
        self.store = store
        self.implied = implied
        self.forget = forget

    def _named(
        self, project: str, descriptor: metric_pb2.MetricDescriptor
    ) -> metric_pb2.MetricDescriptor:
        named = metric_pb2.MetricDescriptor()
        named.CopyFrom(descriptor)
        named.name = f"projects/{project}/metricDescriptors/{descriptor.type}"
        return named

    def metric_descriptors(
        self, project: str, filter_text: str = ""
    ) -> list[metric_pb2.MetricDescriptor]:
        """Every descriptor ``project`` sees that matches ``filter_text``, sorted by type."""
        matches = _compile(filter_text)
        merged: dict[str, metric_pb2.MetricDescriptor] = dict(self.catalogue.metrics)
        for descriptor in self.implied(project):
            merged.setdefault(descriptor.type, descriptor)
        for descriptor in self.store.list(project):
            merged[descriptor.type] = descriptor
        return [
            self._named(project, merged[metric_type])
            for metric_type in sorted(merged)
            if matches({"project": project, "metric.type": metric_type})
        ]

    def find(self, project: str, metric_type: str) -> metric_pb2.MetricDescriptor | None:
        """The descriptor of ``metric_type`` in ``project``, if there is one."""
        stored = self.store.get(project, metric_type)
        if stored is not None:
            return self._named(project, stored)
        if metric_type in self.catalogue.metrics:
            return self._named(project, self.catalogue.metrics[metric_type])
        for descriptor in self.implied(project):
            if descriptor.type == metric_type:
                return self._named(project, descriptor)
        return None

    def get(self, name: str) -> metric_pb2.MetricDescriptor:
        project, metric_type = _split_name(name, "metricDescriptors")
        found = self.find(project, metric_type)
        if found is None:
            raise ApiError(
                grpc.StatusCode.NOT_FOUND,
                f"Could not find descriptor for metric '{metric_type}'.",
            )
        return found

    def create(
        self, parent: str, descriptor: metric_pb2.MetricDescriptor
    ) -> metric_pb2.MetricDescriptor:
        """CreateMetricDescriptor: validate, then create or update (labels are never removed)."""
        project = project_of(parent)
        rules.check_user_defined(descriptor, "metric_descriptor")
        if (
            self.store.get(project, descriptor.type) is None
            and len(self.store.list(project)) >= MAX_USER_DEFINED
        ):
            raise ApiError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Quota exceeded: at most {MAX_USER_DEFINED} user-defined metric descriptors "
                "per project.",
            )
        clean = metric_pb2.MetricDescriptor()
        clean.CopyFrom(descriptor)
        clean.ClearField("name")
        clean.ClearField("monitored_resource_types")  # read-only in Google's API
        return self._named(project, self.store.put(project, clean))

    def delete(self, name: str) -> None:
        """DeleteMetricDescriptor: "Only user-created custom metrics can be deleted"
        (projects.metricDescriptors/delete). A user-defined type is deleted whether
        CreateMetricDescriptor made it or CreateTimeSeries auto-created it (Google deletes
        both: an auto-created descriptor of the wrong kind is fixed by deleting it, as
        google/exposure-notifications-verification-server#1064 and #1309 did), and its
        written series go with it. Other types (built-ins, log-based metrics) are refused with
        INVALID_ARGUMENT in the reference's words: what code and wording Google's service
        answers for them could not be found in any published test, sample or issue here."""
        project, metric_type = _split_name(name, "metricDescriptors")
        if not rules.is_user_defined(metric_type):
            raise rules.invalid(
                "name", name, "only user-created custom metric descriptors can be deleted"
            )
        created = self.store.delete(project, metric_type)
        auto_created = self.forget(project, metric_type)
        if not (created or auto_created):
            # Google's wording (GoogleCloudPlatform/prometheus-engine#1311)
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"The metric '{metric_type}' does not exist.")

    def resource_descriptors(
        self, project: str, filter_text: str = ""
    ) -> list[monitored_resource_pb2.MonitoredResourceDescriptor]:
        """The monitored-resource types matching ``filter_text`` (``resource.type = ...``)."""
        matches = _compile(filter_text)
        return [
            self._named_resource(project, resource)
            for resource_type, resource in self.catalogue.resources.items()
            if matches({"project": project, "resource.type": resource_type})
        ]

    def resource(self, name: str) -> monitored_resource_pb2.MonitoredResourceDescriptor:
        project, resource_type = _split_name(name, "monitoredResourceDescriptors")
        found = self.catalogue.resources.get(resource_type)
        if found is None:
            raise ApiError(
                grpc.StatusCode.NOT_FOUND,
                f"Could not find monitored resource descriptor '{resource_type}'.",
            )
        return self._named_resource(project, found)

    @staticmethod
    def _named_resource(
        project: str, resource: monitored_resource_pb2.MonitoredResourceDescriptor
    ) -> monitored_resource_pb2.MonitoredResourceDescriptor:
        named = monitored_resource_pb2.MonitoredResourceDescriptor()
        named.CopyFrom(resource)
        named.name = f"projects/{project}/monitoredResourceDescriptors/{resource.type}"
        return named
