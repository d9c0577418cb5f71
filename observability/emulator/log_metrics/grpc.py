"""``google.logging.v2.MetricsServiceV2`` over gRPC: log-based metric CRUD.

Only decoding and encoding happen here; the behaviour is ``LogMetricsService``'s.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.logging_v2 import types
from google.cloud.logging_v2.types import ListLogMetricsResponse

from observability.emulator.common.crud import crud_handler
from observability.emulator.log_metrics.service import LogMetricsService

SERVICE_NAME = "google.logging.v2.MetricsServiceV2"

_ListResponse = ListLogMetricsResponse.pb()


def handler(service: LogMetricsService) -> grpc.GenericRpcHandler:
    """The generic handler to add to a ``grpc.Server``."""

    def list_metrics(request: Any) -> Any:
        page = service.list_metrics(request)
        return _ListResponse(metrics=page.metrics, next_page_token=page.next_page_token)

    return crud_handler(SERVICE_NAME, types, "LogMetric", "LogMetrics", service, list_metrics)
