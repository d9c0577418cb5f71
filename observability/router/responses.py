"""What every endpoint shares: JSON error answers, bounded body reading, validation messages.

Every refusal is JSON ``{"error": reason, "status": code}`` with a reason a human can act on:
which field has which problem, never a stack trace and never the input echoed back (it may
hold secrets).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse


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


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestRefused(400, "invalid Content-Length", "malformed")
        if int(declared) > limit:
            raise RequestRefused(
                413, f"body of {declared} bytes exceeds the limit of {limit}", "too_large"
            )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRefused(413, f"body exceeds the limit of {limit} bytes", "too_large")
        chunks.append(chunk)
    return b"".join(chunks)


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
