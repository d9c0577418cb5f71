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
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from observability.router.api import router as api_router
from observability.router.api import runtime_of
from observability.router.clock import Clock
from observability.router.ingest import alertmanager_alerts, cloud_monitoring_webhook
from observability.router.responses import RequestRefused, error_response, refused_response
from observability.router.runtime import RouterRuntime
from observability.router.settings import RouterSettings

access_log = logging.getLogger("observability.router.access")
log = logging.getLogger(__name__)


def create_app(settings: RouterSettings, clock: Clock | None = None) -> FastAPI:
    runtime = RouterRuntime(settings, clock)

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
            await runtime.stop()

    app = FastAPI(
        title="composer-obs router",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    # Plain Starlette routes: the ingest handlers parse their own bodies, so FastAPI's
    # parameter machinery would only add cost on the hottest path.
    app.router.add_route(
        "/v1/webhooks/cloud-monitoring",
        cloud_monitoring_webhook,
        methods=["POST"],
        include_in_schema=False,
    )
    app.router.add_route(
        "/api/v2/alerts", alertmanager_alerts, methods=["POST"], include_in_schema=False
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

    @app.get("/healthz", include_in_schema=False)
    @app.get("/-/healthy", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    @app.get("/-/ready", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        current = runtime_of(request)
        if not current.ready:
            return error_response(503, "starting")
        try:
            await asyncio.to_thread(current.store.ping)
        except Exception as exc:  # noqa: BLE001 - any database failure means not ready
            return error_response(503, f"database unavailable: {type(exc).__name__}")
        return JSONResponse({"status": "ready", "config": current.config.digest[:12]})

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        registry = runtime_of(request).metrics.registry
        body = await asyncio.to_thread(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    if settings.access_log:

        @app.middleware("http")
        async def _access(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            started = time.perf_counter()
            response = await call_next(request)
            # The path only: the query string may carry the ingest token.
            access_log.info(
                "%s %s %d %.1fms",
                request.method,
                request.url.path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            return response

    return app
