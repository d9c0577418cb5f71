"""Cloud Logging's REST API (``/v2/entries:write``, ``/v2/entries:list``, ``GET .../logs``,
``DELETE .../logs/LOG_ID``).

This is the path the hand-written ``google.cloud.logging.Client(_use_grpc=False)`` takes.
Bodies are checked against the protobuf schema the way Google's JSON front end checks them
(unknown fields, wrong types, bad enum names -> 400 before the API runs); behaviour is
``LoggingService``'s. The blocking work runs in the thread pool, off the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from google.cloud.logging_v2.types import (
    ListLogEntriesRequest,
    ListLogsRequest,
    WriteLogEntriesRequest,
)
from google.protobuf import json_format
from starlette.concurrency import run_in_threadpool

from observability.emulator.common.errors import ApiError
from observability.emulator.common.rest_common import (
    JSON_BODY,
    invalid_payload,
    json_body,
    parse_message,
    query_parameters,
)
from observability.emulator.log_entries.convert import entry_from_json
from observability.emulator.log_entries.service import MAX_REQUEST_BYTES, LoggingService

_WriteRequest = WriteLogEntriesRequest.pb()
_ListRequest = ListLogEntriesRequest.pb()
_LogsRequest = ListLogsRequest.pb()


def _write_request(body: dict[str, Any]) -> Any:
    """The WriteLogEntriesRequest protobuf of a JSON body; a malformed one is refused whole."""
    # proto3 JSON leaves an empty repeated field out, so no "entries" is an empty write.
    entries = body.pop("entries", [])
    if not isinstance(entries, list):
        raise ApiError.invalid("entries: required, a JSON array of LogEntry objects")
    request = parse_message(body, _WriteRequest)
    for index, entry in enumerate(entries):
        try:
            entry_from_json(entry, request.entries.add())
        except json_format.ParseError as error:
            raise invalid_payload(error, f"entries[{index}]") from error
    return request


def router(service: LoggingService) -> APIRouter:
    """The routes of the Logging REST API, bound to ``service``."""
    routes = APIRouter()

    def write(body: dict[str, Any]) -> None:
        service.write(_write_request(body))

    def list_entries(body: dict[str, Any]) -> dict[str, Any]:
        page = service.list_entries(parse_message(body, _ListRequest))
        out: dict[str, Any] = {}
        if page.entries:
            out["entries"] = [entry.as_dict() for entry in page.entries]
        if page.next_page_token:
            out["nextPageToken"] = page.next_page_token
        return out

    @routes.post("/v2/entries:write", openapi_extra=JSON_BODY)
    async def entries_write(request: Request) -> JSONResponse:
        await run_in_threadpool(write, await json_body(request, MAX_REQUEST_BYTES))
        return JSONResponse({})

    @routes.post("/v2/entries:list", openapi_extra=JSON_BODY)
    async def entries_list(request: Request) -> JSONResponse:
        body = await json_body(request, MAX_REQUEST_BYTES)
        return JSONResponse(await run_in_threadpool(list_entries, body))

    @routes.get(
        "/v2/{kind}/{parent_id}/logs",
        openapi_extra=query_parameters("resourceNames", "pageSize", "pageToken"),
    )
    def logs_list(kind: str, parent_id: str, request: Request) -> JSONResponse:
        query = request.query_params
        fields: dict[str, Any] = {
            "parent": f"{kind}/{parent_id}",
            "resourceNames": query.getlist("resourceNames"),
        }
        for name in ("pageSize", "pageToken"):
            if name in query:
                fields[name] = query[name]
        page = service.list_logs(parse_message(fields, _LogsRequest))
        out: dict[str, Any] = {"logNames": page.log_names} if page.log_names else {}
        if page.next_page_token:
            out["nextPageToken"] = page.next_page_token
        return JSONResponse(out)

    @routes.delete("/v2/{kind}/{parent_id}/logs/{log_id:path}")
    async def logs_delete(kind: str, parent_id: str, log_id: str, request: Request) -> JSONResponse:
        log_name = _log_name(request, f"{kind}/{parent_id}/logs/{log_id}")
        await run_in_threadpool(service.delete_log, log_name)
        return JSONResponse({})

    return routes


def _log_name(request: Request, decoded: str) -> str:
    """The log name as the client wrote it: the URL path still encoded (Starlette routes on
    the decoded path, where ``a%2Fb`` and ``a/b`` look alike), without ``/v2/``."""
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return decoded
    return raw.decode("latin-1").removeprefix("/v2/")
