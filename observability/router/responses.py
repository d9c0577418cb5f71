"""What every endpoint shares: JSON error answers, bounded body reading, validation messages.

Every refusal is JSON ``{"error": reason, "status": code}`` with a reason a human can act on:
which field has which problem, never a stack trace and never the input echoed back (it may
hold secrets).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import Receive


class RequestRefused(Exception):
    """Answer the request with ``status`` and ``message``; ``reason`` is the metrics label."""

    def __init__(
        self, status: int, message: str, reason: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def refused_response(exc: RequestRefused) -> JSONResponse:
    return error_response(exc.status, str(exc), exc.headers)


_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
"""``JSONResponse.render``'s settings, built once: ``json.dumps`` with them builds an encoder
per call."""


def json_body(content: Any) -> bytes:
    """``content`` rendered exactly as Starlette's ``JSONResponse`` renders it (compact,
    UTF-8, no NaN), for answers sent without building a Response object."""
    return _JSON.encode(content).encode("utf-8")


def request_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case) in an ASGI scope's ``headers``: what
    Starlette's ``Headers.get`` gives, without building a ``Headers`` object."""
    for key, value in headers:
        if key == name:
            return value
    return None


async def receive_body(receive: Receive, content_length: bytes | None, limit: int) -> bytes:
    """The body from ASGI ``receive``, refusing (413) anything over ``limit`` bytes: before
    reading when ``Content-Length`` declares too much, else as soon as the chunks pass it.

    Reads the messages as ``Request.stream`` does (a disconnect raises ``ClientDisconnect``);
    the body must not have been read before.
    """
    if content_length is not None:
        if not content_length.isdigit():
            raise RequestRefused(400, "invalid Content-Length", "malformed")
        if int(content_length) > limit:
            raise RequestRefused(
                413,
                f"body of {content_length.decode('latin-1')} bytes exceeds the limit of {limit}",
                "too_large",
            )
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            size += len(chunk)
            if size > limit:
                raise RequestRefused(413, f"body exceeds the limit of {limit} bytes", "too_large")
            chunks.append(chunk)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()
    return b"".join(chunks)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes before reading it all."""
    content_length = request_header(request.scope["headers"], b"content-length")
    return await receive_body(request.receive, content_length, limit)


def validation_message(exc: ValidationError, limit: int = 3) -> tuple[int, str, str]:
    """(status, message, reason) for a failed validation: 400 for bad JSON, else 422."""
    errors = exc.errors(include_input=False, include_url=False)
    if errors and errors[0]["type"] == "json_invalid":
        detail = errors[0].get("ctx", {}).get("error", "invalid JSON")
        return 400, f"malformed JSON: {detail}", "malformed_json"
    parts = [_describe(error) for error in errors[:limit]]
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return 422, "; ".join(parts) + more, "invalid"


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}"
