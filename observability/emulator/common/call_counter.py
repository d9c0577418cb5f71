"""What clients asked of the emulator: a count per API method, for tests and curious users.

Provisioning promises that a second ``apply`` makes no writing call; the emulator, which sees
every call, is the honest place to count them. gRPC calls are counted by their full method
name (``/google.monitoring.v3.AlertPolicyService/UpdateAlertPolicy``), HTTP calls by method
and route template (``PATCH /v1/projects/{project}/dashboards/{dashboard}``).
``GET /v1/emulator/calls`` returns the counts (the counting endpoints themselves excluded),
and under ``callers`` how the calls introduced themselves: the ``x-goog-api-client`` header the
Google clients send (``composer-observability/0.1.0 gl-python/3.11.7 grpc/1.66.1 ...``), else
the ``User-Agent``. That is what Google's API logs show, so a test can check it here.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc
from fastapi import APIRouter, FastAPI, Request, Response

COUNTS_PATH = "/v1/emulator/calls"


class CallCounter:
    """Thread-safe counts of gRPC and HTTP calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grpc: Counter[str] = Counter()
        self._http: Counter[str] = Counter()
        self._callers: Counter[str] = Counter()

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {
                "grpc": dict(self._grpc),
                "http": dict(self._http),
                "callers": dict(self._callers),
            }

    def interceptor(self) -> grpc.ServerInterceptor:
        counter = self

        class _Counting(grpc.ServerInterceptor):
            def intercept_service(
                self,
                continuation: Callable[[grpc.HandlerCallDetails], Any],
                handler_call_details: grpc.HandlerCallDetails,
            ) -> Any:
                metadata = dict(handler_call_details.invocation_metadata or ())
                with counter._lock:
                    counter._grpc[handler_call_details.method] += 1
                    counter._callers[_caller(metadata)] += 1
                return continuation(handler_call_details)

        return _Counting()

    def watch(self, app: FastAPI) -> None:
        """Count every HTTP request the app routes, by method and route template."""

        @app.middleware("http")
        async def count(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            response = await call_next(request)
            route = request.scope.get("route")
            path = getattr(route, "path", request.url.path)
            if path != COUNTS_PATH:
                with self._lock:
                    self._http[f"{request.method} {path}"] += 1
                    self._callers[_caller(request.headers)] += 1
            return response

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get(COUNTS_PATH)
        def calls() -> dict[str, dict[str, int]]:
            return self.snapshot()

        return router


def _caller(headers: Mapping[str, Any]) -> str:
    """How a call introduced itself: ``x-goog-api-client``, else ``user-agent``, else ``""``."""
    return str(headers.get("x-goog-api-client") or headers.get("user-agent") or "")
