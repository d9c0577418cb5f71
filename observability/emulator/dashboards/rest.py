"""Cloud Monitoring's Dashboards REST API (``/v1/projects/P/dashboards[/ID]``).

The body is taken as the JSON object the client sent and stored as it is: it is never
parsed into the proto, which would drop the fields the client library does not know yet.
Query parameters: ``dashboardId`` and ``validateOnly`` on create, ``validateOnly`` on patch,
``pageSize`` and ``pageToken`` on list. The blocking work runs in the thread pool.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from observability.emulator.common.errors import ApiError
from observability.emulator.common.rest_common import JSON_BODY, json_body, query_parameters
from observability.emulator.dashboards.service import MAX_REQUEST_BYTES, DashboardsService

_TRUE = {"true": True, "1": True, "false": False, "0": False, "": False}


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "")
    if value.lower() not in _TRUE:
        raise ApiError.invalid(f"{name}: must be true or false, got {value!r}")
    return _TRUE[value.lower()]


def _integer(request: Request, name: str) -> int:
    value = request.query_params.get(name, "0") or "0"
    try:
        return int(value)
    except ValueError as error:
        raise ApiError.invalid(f"{name}: must be an integer, got {value!r}") from error


def router(service: DashboardsService) -> APIRouter:
    """The routes of the Dashboards REST API, bound to ``service``."""
    routes = APIRouter()

    @routes.post(
        "/v1/projects/{project}/dashboards",
        openapi_extra={**JSON_BODY, **query_parameters("dashboardId", "validateOnly")},
    )
    async def create(project: str, request: Request) -> JSONResponse:
        body = await json_body(request, MAX_REQUEST_BYTES)
        created = await run_in_threadpool(
            service.create,
            f"projects/{project}",
            body,
            request.query_params.get("dashboardId", ""),
            _flag(request, "validateOnly"),
        )
        return JSONResponse(created)

    @routes.get(
        "/v1/projects/{project}/dashboards",
        openapi_extra=query_parameters("pageSize", "pageToken"),
    )
    def list_dashboards(project: str, request: Request) -> JSONResponse:
        page = service.list(
            f"projects/{project}",
            _integer(request, "pageSize"),
            request.query_params.get("pageToken", ""),
        )
        out: dict[str, object] = {"dashboards": page.dashboards} if page.dashboards else {}
        if page.next_page_token:
            out["nextPageToken"] = page.next_page_token
        return JSONResponse(out)

    @routes.get("/v1/projects/{project}/dashboards/{ident}")
    def get(project: str, ident: str) -> JSONResponse:
        return JSONResponse(service.get(f"projects/{project}/dashboards/{ident}"))

    @routes.patch(
        "/v1/projects/{project}/dashboards/{ident}",
        openapi_extra={**JSON_BODY, **query_parameters("validateOnly")},
    )
    async def update(project: str, ident: str, request: Request) -> JSONResponse:
        body = await json_body(request, MAX_REQUEST_BYTES)
        updated = await run_in_threadpool(
            service.update,
            body,
            f"projects/{project}/dashboards/{ident}",
            _flag(request, "validateOnly"),
        )
        return JSONResponse(updated)

    @routes.delete("/v1/projects/{project}/dashboards/{ident}")
    def delete(project: str, ident: str) -> JSONResponse:
        service.delete(f"projects/{project}/dashboards/{ident}")
        return JSONResponse({})

    return routes
