"""MetricService's descriptor methods over gRPC: conversions and paging only.

Registered as its own generic handler for ``google.monitoring.v3.MetricService`` beside the
time series one: gRPC asks each handler in turn for a method, so the two share the service
name without knowing of each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import grpc
from google.api import metric_pb2, monitored_resource_pb2
from google.cloud.monitoring_v3.types import (
    CreateMetricDescriptorRequest,
    DeleteMetricDescriptorRequest,
    GetMetricDescriptorRequest,
    GetMonitoredResourceDescriptorRequest,
    ListMetricDescriptorsRequest,
    ListMetricDescriptorsResponse,
    ListMonitoredResourceDescriptorsRequest,
    ListMonitoredResourceDescriptorsResponse,
)
from google.protobuf import empty_pb2

from observability.emulator.common import page_tokens
from observability.emulator.common.errors import ApiError
from observability.emulator.common.grpc_common import unary
from observability.emulator.descriptors.service import DescriptorService, project_of

SERVICE_NAME: Final = "google.monitoring.v3.MetricService"
DEFAULT_PAGE_SIZE: Final = 1_000
MAX_PAGE_SIZE: Final = 10_000

_ListRequest = ListMetricDescriptorsRequest.pb()
_ListResponse = ListMetricDescriptorsResponse.pb()
_ResourcesRequest = ListMonitoredResourceDescriptorsRequest.pb()
_ResourcesResponse = ListMonitoredResourceDescriptorsResponse.pb()

Described = TypeVar(
    "Described", metric_pb2.MetricDescriptor, monitored_resource_pb2.MonitoredResourceDescriptor
)


def page(items: Sequence[Described], request: Any) -> tuple[list[Described], str]:
    """One page of ``items`` (sorted by type) after the type the token names; the token also
    holds a digest of the query, so it is refused for another one, as Google does."""
    size, token = request.page_size, request.page_token
    query = f"{request.name}\0{request.filter}"
    if size < 0:
        raise ApiError.invalid("Field page_size had an invalid value: must not be negative")
    size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]
    after = ""
    if token:
        token_digest, after = page_tokens.decode(token, (str, str), "page_token")
        if token_digest != digest:
            raise ApiError.invalid("page_token: not a token this server issued for this query")
    rest = [item for item in items if item.type > after]
    chosen = rest[:size]
    following = page_tokens.encode(digest, chosen[-1].type) if len(rest) > size else ""
    return chosen, following


def _lister(
    listing: Callable[[str, str], Sequence[Described]], response: Any, field: str
) -> Callable[[Any], Any]:
    """A List method: ``listing(project, filter)`` paged into ``response(field=...)``."""

    def list_method(request: Any) -> Any:
        chosen, token = page(listing(project_of(request.name), request.filter), request)
        return response(**{field: chosen}, next_page_token=token)

    return list_method


def handler(service: DescriptorService) -> grpc.GenericRpcHandler:
    """The generic handler to add to a ``grpc.Server``."""

    def create_descriptor(request: Any) -> Any:
        if not request.HasField("metric_descriptor"):
            raise ApiError.invalid("Field metric_descriptor is required.")
        return service.create(request.name, request.metric_descriptor)

    def delete_descriptor(request: Any) -> Any:
        service.delete(request.name)
        return empty_pb2.Empty()

    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "ListMetricDescriptors": unary(
                _lister(service.metric_descriptors, _ListResponse, "metric_descriptors"),
                _ListRequest,
                _ListResponse,
            ),
            "GetMetricDescriptor": unary(
                lambda request: service.get(request.name),
                GetMetricDescriptorRequest.pb(),
                metric_pb2.MetricDescriptor,
            ),
            "CreateMetricDescriptor": unary(
                create_descriptor, CreateMetricDescriptorRequest.pb(), metric_pb2.MetricDescriptor
            ),
            "DeleteMetricDescriptor": unary(
                delete_descriptor, DeleteMetricDescriptorRequest.pb(), empty_pb2.Empty
            ),
            "ListMonitoredResourceDescriptors": unary(
                _lister(service.resource_descriptors, _ResourcesResponse, "resource_descriptors"),
                _ResourcesRequest,
                _ResourcesResponse,
            ),
            "GetMonitoredResourceDescriptor": unary(
                lambda request: service.resource(request.name),
                GetMonitoredResourceDescriptorRequest.pb(),
                monitored_resource_pb2.MonitoredResourceDescriptor,
            ),
        },
    )
