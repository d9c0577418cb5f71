"""``google.logging.v2.MetricsServiceV2`` over gRPC: log-based metric CRUD.

Only decoding and encoding happen here; the behaviour is ``LogMetricsService``'s.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.logging_v2.types import (
    CreateLogMetricRequest,
    DeleteLogMetricRequest,
    GetLogMetricRequest,
    ListLogMetricsRequest,
    ListLogMetricsResponse,
    LogMetric,
    UpdateLogMetricRequest,
)
from google.protobuf import empty_pb2

from observability.emulator.common.grpc_common import unary
from observability.emulator.log_metrics.service import LogMetricsService

SERVICE_NAME = "google.logging.v2.MetricsServiceV2"

_LogMetric = LogMetric.pb()
_ListResponse = ListLogMetricsResponse.pb()


def handler(service: LogMetricsService) -> grpc.GenericRpcHandler:
    """The generic handler to add to a ``grpc.Server``."""

    def list_metrics(request: Any) -> Any:
        page = service.list_metrics(request)
        return _ListResponse(metrics=page.metrics, next_page_token=page.next_page_token)

    def delete(request: Any) -> Any:
        service.delete(request)
        return empty_pb2.Empty()

    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "CreateLogMetric": unary(service.create, CreateLogMetricRequest.pb(), _LogMetric),
            "GetLogMetric": unary(service.get, GetLogMetricRequest.pb(), _LogMetric),
            "ListLogMetrics": unary(list_metrics, ListLogMetricsRequest.pb(), _ListResponse),
            "UpdateLogMetric": unary(service.update, UpdateLogMetricRequest.pb(), _LogMetric),
            "DeleteLogMetric": unary(delete, DeleteLogMetricRequest.pb(), empty_pb2.Empty),
        },
    )
