"""What every emulated REST API shares: bounded JSON bodies, Google's error shape, the app.

Each service contributes an ``APIRouter``; ``build_app`` mounts them on one FastAPI app with
handlers that render every failure (ours, FastAPI's 404/405, or a bug) as Google's JSON error
body, since that is what ``google.api_core.exceptions.from_http_response`` parses.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from typing import Any, Final

import grpc
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from observability.emulator.common.errors import ApiError, json_type_name
from observability.emulator.common.sqlite_db import unavailable

_log = logging.getLogger(__name__)

_PARSE_ON_LOOP_BYTES = 64 * 1024


JSON_BODY: Final = {
    "requestBody": {"required": False, "content": {"application/json": {"schema": {}}}}
}
"""``openapi_extra`` of a route that reads its JSON body itself (``json_body``): so the
OpenAPI document says there is one, and fuzzers send one. Any JSON may arrive; the route
answers 400 to what is not its message."""


def query_parameters(*names: str) -> dict[str, Any]:
    """``openapi_extra`` naming the query parameters a route reads itself, as strings."""
    return {
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in names
        ]
    }


OPENAPI_PATH: Final = "/v1/emulator/openapi.json"
"""Where the REST surface's OpenAPI document is served (FastAPI's, for tools and fuzzing)."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise ApiError.invalid(f"Invalid JSON payload received. {error}") from error
    except RecursionError:
        raise ApiError.invalid(
            "Invalid JSON payload received. Nested too deeply (more than about 1,000 levels)."
        ) from None


async def json_body(request: Request, limit: int) -> dict[str, Any]:
    """The request body as a JSON object, refusing oversized or malformed ones with 400.

    The size is checked while reading, so a huge body is never held in memory whole.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError.invalid(f"Request payload size exceeds the limit: {limit} bytes.")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError.invalid(f"Request payload size exceeds the limit: {limit} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    # Parsing megabytes takes a while: off the event loop, so other requests go on.
    body = _parse(raw) if size <= _PARSE_ON_LOOP_BYTES else await run_in_threadpool(_parse, raw)
    if not isinstance(body, dict):
        raise ApiError.invalid(
            f"Invalid JSON payload received. The body must be a JSON object, "
            f"got {json_type_name(body)}."
        )
    return body


def invalid_payload(error: json_format.ParseError, where: str = "") -> ApiError:
    """The 400 for JSON that does not fit the protobuf schema, worded like Google's."""
    at = f" at {where}" if where else ""
    reason = str(error).splitlines()[0]
    return ApiError.invalid(f"Invalid JSON payload received{at}. {reason}")


def parse_message(data: dict[str, Any], message_class: Any) -> Any:
    """``data`` as a raw protobuf of ``message_class``; unknown fields or wrong types -> 400."""
    message = message_class()
    try:
        json_format.ParseDict(data, message)
    except json_format.ParseError as error:
        raise invalid_payload(error) from error
    return message


def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return JSONResponse(error.to_json(), status_code=error.http_status)


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    message = f"{request.method} {request.url.path}: {error.detail}"
    return _api_error(request, ApiError.from_http_status(error.status_code, message))


def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, sqlite3.Error) and (refusal := unavailable(error)) is not None:
        return _api_error(request, refusal)
    if isinstance(error, RecursionError):  # only a deeply nested input recurses that far
        return _api_error(request, ApiError.invalid("Invalid request: nested too deeply."))
    _log.exception("%s %s failed", request.method, request.url.path, exc_info=error)
    internal = ApiError(grpc.StatusCode.INTERNAL, f"emulator bug: {type(error).__name__}: {error}")
    return _api_error(request, internal)


def build_app(routers: Iterable[APIRouter]) -> FastAPI:
    """One app serving every emulated REST API."""
    app = FastAPI(
        title="composer-observability emulator",
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
    )
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    return app
