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
from google.cloud.monitoring_dashboard_v1 import types
from google.cloud.monitoring_dashboard_v1.types import Dashboard, ListDashboardsResponse
from google.protobuf import json_format

from observability.emulator.common.crud import crud_handler
from observability.emulator.common.errors import ApiError
from observability.emulator.dashboards.service import DashboardsService

SERVICE_NAME = "google.monitoring.dashboard.v1.DashboardsService"

_Dashboard = Dashboard.pb()
_ListResponse = ListDashboardsResponse.pb()


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


class _OverGrpc:
    """The Dashboards service as the CRUD servicer calls it: protobuf in, protobuf out."""

    def __init__(self, service: DashboardsService) -> None:
        self.service = service

    def create(self, request: Any) -> Any:
        dashboard = to_json(request.dashboard)
        created = self.service.create(
            request.parent, dashboard, validate_only=request.validate_only
        )
        return from_json(created)

    def get(self, request: Any) -> Any:
        return from_json(self.service.get(request.name))

    def list(self, request: Any) -> Any:
        page = self.service.list(request.parent, request.page_size, request.page_token)
        response = _ListResponse(next_page_token=page.next_page_token)
        for dashboard in page.dashboards:
            from_json(dashboard, response.dashboards.add())
        return response

    def update(self, request: Any) -> Any:
        dashboard = to_json(request.dashboard)
        return from_json(self.service.update(dashboard, validate_only=request.validate_only))

    def delete(self, request: Any) -> None:
        self.service.delete(request.name)


def handler(service: DashboardsService) -> grpc.GenericRpcHandler:
    """The generic handler to add to a ``grpc.Server``."""
    over_grpc = _OverGrpc(service)
    return crud_handler(SERVICE_NAME, types, "Dashboard", "Dashboards", over_grpc, over_grpc.list)
