"""``google.monitoring.dashboard.v1.DashboardsService`` over gRPC.

A gRPC client can only send what its proto knows, so the request's dashboard is turned into
JSON (``json_format``, camelCase, enum names) and handed to ``DashboardsService`` as a REST
body would be. Stored dashboards go back through the proto with unknown fields ignored:
the fields a gRPC client could not have sent it cannot receive either, but they stay stored
for REST readers.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.monitoring_dashboard_v1.types import (
    CreateDashboardRequest,
    Dashboard,
    DeleteDashboardRequest,
    GetDashboardRequest,
    ListDashboardsRequest,
    ListDashboardsResponse,
    UpdateDashboardRequest,
)
from google.protobuf import empty_pb2, json_format

from observability.emulator.common.errors import ApiError
from observability.emulator.common.grpc_common import unary
from observability.emulator.dashboards.service import DashboardsService

SERVICE_NAME = "google.monitoring.dashboard.v1.DashboardsService"

_Dashboard = Dashboard.pb()
_CreateRequest = CreateDashboardRequest.pb()
_GetRequest = GetDashboardRequest.pb()
_ListRequest = ListDashboardsRequest.pb()
_ListResponse = ListDashboardsResponse.pb()
_UpdateRequest = UpdateDashboardRequest.pb()
_DeleteRequest = DeleteDashboardRequest.pb()
_Empty = empty_pb2.Empty


def to_json(dashboard: Any) -> dict[str, Any]:
    """A Dashboard protobuf as the JSON object a REST client would send."""
    return json_format.MessageToDict(dashboard)


def from_json(data: dict[str, Any], into: Any = None) -> Any:
    """Stored dashboard JSON as a Dashboard protobuf; fields the proto lacks are left out."""
    message = _Dashboard() if into is None else into
    try:
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise ApiError(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"{data.get('name', 'the dashboard')} cannot be expressed in the gRPC "
            f"Dashboard message ({str(error).splitlines()[0]}); read it over REST",
        ) from error
    return message


def handler(service: DashboardsService) -> grpc.GenericRpcHandler:
    """The generic handler to add to a ``grpc.Server``."""

    def create(request: Any) -> Any:
        created = service.create(
            request.parent, to_json(request.dashboard), validate_only=request.validate_only
        )
        return from_json(created)

    def get(request: Any) -> Any:
        return from_json(service.get(request.name))

    def list_dashboards(request: Any) -> Any:
        page = service.list(request.parent, request.page_size, request.page_token)
        response = _ListResponse(next_page_token=page.next_page_token)
        for dashboard in page.dashboards:
            from_json(dashboard, response.dashboards.add())
        return response

    def update(request: Any) -> Any:
        updated = service.update(to_json(request.dashboard), validate_only=request.validate_only)
        return from_json(updated)

    def delete(request: Any) -> Any:
        service.delete(request.name)
        return _Empty()

    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "CreateDashboard": unary(create, _CreateRequest, _Dashboard),
            "GetDashboard": unary(get, _GetRequest, _Dashboard),
            "ListDashboards": unary(list_dashboards, _ListRequest, _ListResponse),
            "UpdateDashboard": unary(update, _UpdateRequest, _Dashboard),
            "DeleteDashboard": unary(delete, _DeleteRequest, _Empty),
        },
    )
