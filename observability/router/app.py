"""The FastAPI application: ingest, APIs, health, metrics; the runtime starts with it.

``create_app`` is what ``router serve`` gives uvicorn and what the tests run; it takes the
settings (and optionally a clock) so nothing is read from globals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from observability.router.api import admin, runtime_of
from observability.router.api import router as api_router
from observability.router.clock import Clock
from observability.router.ingest import AlertmanagerAlerts, CloudMonitoringWebhook, IngestEndpoint
from observability.router.openapi import OPENAPI_PATH, openapi_document
from observability.router.responses import RequestRefused, error_response, refused_response
from observability.router.runtime import Role, RouterRuntime
from observability.router.settings import RouterSettings
from observability.router.timestamps import iso

access_log = logging.getLogger("observability.router.access")
log = logging.getLogger(__name__)


def create_asgi(
    settings: RouterSettings,
    clock: Clock | None = None,
    role: Role = Role.ALL,
    instance: str | None = None,
) -> FastIngest:
    """What ``router serve`` gives uvicorn: the app behind the ingest fast path."""
    app = create_app(settings, clock, role, instance)
    return FastIngest(app, settings.access_log)


class FastIngest:
    """Pure ASGI in front of the FastAPI app: ingest requests skip its middleware stack.

    ``POST`` to the two ingest paths goes straight to its endpoint (the same ASGI apps the
    app routes to, found among its routes, so answers are identical); everything else, other
    methods on those paths included, goes through the app. The per-request layers (error and
    exception middleware, routing, telemetry, exit stacks) cost more than storing the alert
    does. The access log, when on, is written here for every request (path only: the query
    may hold the token).
    """

    def __init__(self, app: FastAPI, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log
        self.routes = {
            route.path: route.endpoint
            for route in app.router.routes
            if isinstance(route, Route) and isinstance(route.endpoint, IngestEndpoint)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.access_log:
            await self._handle(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def logged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._handle(scope, receive, logged_send)
        finally:
            access_log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.get(scope["path"]) if scope["method"] == "POST" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        await endpoint(scope, receive, send)


def create_app(
    settings: RouterSettings,
    clock: Clock | None = None,
    role: Role = Role.ALL,
    instance: str | None = None,
) -> FastAPI:
    runtime = RouterRuntime(settings, clock, role, instance)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(
                signal.SIGHUP, lambda: loop.run_in_executor(None, runtime.reload, "SIGHUP")
            )
        try:
            yield
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)
                # Not back to the default action: a reload asked for during a graceful stop
                # must not end the process before it has finished.
                signal.signal(signal.SIGHUP, signal.SIG_IGN)
            await runtime.stop()

    app = FastAPI(
        title="composer-obs router",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    # Plain ASGI endpoints: the ingest handlers read the scope themselves, so FastAPI's
    # parameter machinery and Starlette's Request would only add cost on the hottest path.
    # (``Route`` itself: ``add_route`` is typed for Request handlers only.)
    app.router.routes.append(
        Route(
            "/v1/webhooks/cloud-monitoring",
            CloudMonitoringWebhook(runtime),
            methods=["POST"],
            include_in_schema=False,
        )
    )
    app.router.routes.append(
        Route(
            "/api/v2/alerts", AlertmanagerAlerts(runtime), methods=["POST"], include_in_schema=False
        )
    )
    app.include_router(api_router)

    @app.exception_handler(RequestRefused)
    async def _refused(_: Request, exc: RequestRefused) -> Response:
        return refused_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"])
        return error_response(422, f"{where}: {first['msg']}")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> Response:
        return error_response(
            exc.status_code, str(exc.detail), dict(exc.headers) if exc.headers else None
        )

    @app.get(OPENAPI_PATH, include_in_schema=False)
    async def openapi(_: RouterRuntime = Depends(admin)) -> JSONResponse:
        return JSONResponse(openapi_document(app))

    @app.get("/healthz", include_in_schema=False)
    @app.get("/-/healthy", include_in_schema=False)
    async def healthz() -> Response:
        failure = runtime.dispatching_failure()
        if failure is not None:
            return error_response(503, f"dispatching stopped: {failure!r}")
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    @app.get("/-/ready", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        current = runtime_of(request)
        if not current.ready:
            return error_response(503, "starting")
        try:
            dispatcher = await asyncio.to_thread(current.dispatcher_failing)
        except Exception as exc:  # noqa: BLE001 - any database failure means not ready
            return error_response(503, f"database unavailable: {type(exc).__name__}")
        if dispatcher is not None:
            return error_response(
                503,
                f"the dispatcher has failed {dispatcher.failures} passes in a row since "
                f"{iso(dispatcher.since)}: {dispatcher.error}",
            )
        return JSONResponse({"status": "ready", "config": current.config.digest[:12]})

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        registry = runtime_of(request).metrics.registry
        body = await asyncio.to_thread(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
