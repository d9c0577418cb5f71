"""MetricService's descriptor methods over gRPC: conversions and paging only.

Registered as its own generic handler for ``google.monitoring.v3.MetricService`` beside the
time series one: gRPC asks each handler in turn for a method, so the two share the service
name without knowing of each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
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


def page(
    items: Sequence[Described], query: str, size: int, token: str
) -> tuple[list[Described], str]:
    """One page of ``items`` (sorted by type) after the type the token names; the token also
    holds a digest of the query, so it is refused for another one, as Google does."""
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


def handler(service: DescriptorService) -> grpc.GenericRpcHandler:
    """The generic handler to add to a ``grpc.Server``."""

    def list_descriptors(request: Any) -> Any:
        project = project_of(request.name)
        found = service.metric_descriptors(project, request.filter)
        chosen, token = page(
            found, f"{project}\0{request.filter}", request.page_size, request.page_token
        )
        return _ListResponse(metric_descriptors=chosen, next_page_token=token)

    def get_descriptor(request: Any) -> Any:
        return service.get(request.name)

    def create_descriptor(request: Any) -> Any:
        if not request.HasField("metric_descriptor"):
            raise ApiError.invalid("Field metric_descriptor is required.")
        return service.create(request.name, request.metric_descriptor)

    def delete_descriptor(request: Any) -> Any:
        service.delete(request.name)
        return empty_pb2.Empty()

    def list_resources(request: Any) -> Any:
        project = project_of(request.name)
        found = service.resource_descriptors(project, request.filter)
        chosen, token = page(
            found, f"{project}\0{request.filter}", request.page_size, request.page_token
        )
        return _ResourcesResponse(resource_descriptors=chosen, next_page_token=token)

    def get_resource(request: Any) -> Any:
        return service.resource(request.name)

    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "ListMetricDescriptors": unary(list_descriptors, _ListRequest, _ListResponse),
            "GetMetricDescriptor": unary(
                get_descriptor, GetMetricDescriptorRequest.pb(), metric_pb2.MetricDescriptor
            ),
            "CreateMetricDescriptor": unary(
                create_descriptor, CreateMetricDescriptorRequest.pb(), metric_pb2.MetricDescriptor
            ),
            "DeleteMetricDescriptor": unary(
                delete_descriptor, DeleteMetricDescriptorRequest.pb(), empty_pb2.Empty
            ),
            "ListMonitoredResourceDescriptors": unary(
                list_resources, _ResourcesRequest, _ResourcesResponse
            ),
            "GetMonitoredResourceDescriptor": unary(
                get_resource,
                GetMonitoredResourceDescriptorRequest.pb(),
                monitored_resource_pb2.MonitoredResourceDescriptor,
            ),
        },
    )
