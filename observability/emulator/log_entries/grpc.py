"""``google.logging.v2.LoggingServiceV2`` over gRPC: WriteLogEntries, ListLogEntries, ListLogs,
DeleteLog.

Only decoding and encoding happen here; the behaviour is ``LoggingService``'s. Methods not
listed (TailLogEntries, ListMonitoredResourceDescriptors) answer UNIMPLEMENTED.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.logging_v2.types import (
    DeleteLogRequest,
    ListLogEntriesRequest,
    ListLogEntriesResponse,
    ListLogsRequest,
    ListLogsResponse,
    WriteLogEntriesRequest,
    WriteLogEntriesResponse,
)
from google.protobuf import empty_pb2

from observability.emulator.common.errors import ApiError
from observability.emulator.common.grpc_common import unary
from observability.emulator.log_entries.service import MAX_REQUEST_BYTES, LoggingService

SERVICE_NAME = "google.logging.v2.LoggingServiceV2"

_WriteRequest = WriteLogEntriesRequest.pb()
_WriteResponse = WriteLogEntriesResponse.pb()
_ListRequest = ListLogEntriesRequest.pb()
_ListResponse = ListLogEntriesResponse.pb()
_LogsRequest = ListLogsRequest.pb()
_LogsResponse = ListLogsResponse.pb()
_DeleteRequest = DeleteLogRequest.pb()
_Empty = empty_pb2.Empty


def handler(service: LoggingService) -> grpc.GenericRpcHandler:
    """The generic handler to add to a ``grpc.Server``."""

    def write(request: Any) -> Any:
        size = request.ByteSize()
        if size > MAX_REQUEST_BYTES:
            raise ApiError.invalid(
                f"Request payload size {size} exceeds the limit: {MAX_REQUEST_BYTES} bytes."
            )
        service.write(request)
        return _WriteResponse()

    def list_entries(request: Any) -> Any:
        page = service.list_entries(request)
        response = _ListResponse(next_page_token=page.next_page_token)
        for entry in page.entries:
            entry.add_to(response.entries)
        return response

    def list_logs(request: Any) -> Any:
        page = service.list_logs(request)
        return _LogsResponse(log_names=page.log_names, next_page_token=page.next_page_token)

    def delete_log(request: Any) -> Any:
        service.delete_log(request.log_name)
        return _Empty()

    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "WriteLogEntries": unary(write, _WriteRequest, _WriteResponse),
            "ListLogEntries": unary(list_entries, _ListRequest, _ListResponse),
            "ListLogs": unary(list_logs, _LogsRequest, _LogsResponse),
            "DeleteLog": unary(delete_log, _DeleteRequest, _Empty),
        },
    )
