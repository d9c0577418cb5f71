"""Ingest endpoints: Cloud Monitoring's webhook and Alertmanager's ``POST /api/v2/alerts``.

Each request is authenticated, size-limited, validated, then stored durably by the
group-commit writer; only then is it answered 2xx. A database failure answers 503 with
``Retry-After`` so the sender tries again (Monitoring does; nothing is acknowledged unstored).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from observability.router.alert import PostableAlert
from observability.router.alert_store import IncidentEvent
from observability.router.auth import AuthError
from observability.router.incident import WebhookPayload, incident_alert
from observability.router.responses import (
    RequestRefused,
    error_response,
    read_body,
    refused_response,
    validation_message,
)
from observability.router.runtime import RouterRuntime

log = logging.getLogger(__name__)

Payload = TypeVar("Payload")

_POSTABLE_ALERTS = TypeAdapter(list[PostableAlert])
CLOUD_MONITORING = "cloud_monitoring"
ALERTMANAGER = "alertmanager"


async def _accepted_payload(
    runtime: RouterRuntime, request: Request, parse: Callable[[bytes], Payload]
) -> tuple[bytes, Payload]:
    """The raw body and ``parse(body)``, or RequestRefused (unauthorized, too large, invalid).

    Both ingest endpoints refuse the same way, so senders see one error shape and
    ``requests_invalid`` counts the same reasons; the raw body is kept for the incident log.
    """
    try:
        runtime.auth.check_ingest(request)
    except AuthError as exc:
        raise RequestRefused(
            401, str(exc), "unauthorized", {"WWW-Authenticate": exc.challenge}
        ) from None
    body = await read_body(request, runtime.settings.max_body_bytes)
    try:
        return body, parse(body)
    except ValidationError as exc:
        status, message, reason = validation_message(exc)
        raise RequestRefused(status, message, reason) from None


def _refuse(runtime: RouterRuntime, exc: RequestRefused) -> Response:
    runtime.metrics.requests_invalid.labels(exc.reason).inc()
    return refused_response(exc)


def _unavailable(exc: Exception) -> Response:
    log.error("could not store alerts: %s", type(exc).__name__)
    return error_response(503, "the alert store is unavailable, retry later", {"Retry-After": "5"})


async def cloud_monitoring_webhook(request: Request) -> Response:
    """``POST /v1/webhooks/cloud-monitoring``: one incident event per request."""
    runtime: RouterRuntime = request.app.state.runtime
    started = time.perf_counter()
    try:
        body, payload = await _accepted_payload(
            runtime, request, WebhookPayload.model_validate_json
        )
    except RequestRefused as exc:
        return _refuse(runtime, exc)
    incident = payload.incident
    alert = incident_alert(incident, runtime.clock.now())
    # The body as received (valid JSON: it was just validated), undecoded bytes replaced.
    event = IncidentEvent(
        incident.incident_id, incident.state, alert, body.decode("utf-8", "replace")
    )
    try:
        outcome = await runtime.writer.submit_incident(event)
    except Exception as exc:  # noqa: BLE001 - answered 503: the sender will retry
        return _unavailable(exc)
    runtime.metrics.alerts_received.labels(CLOUD_MONITORING, outcome).inc()
    runtime.metrics.ingest_latency.labels(CLOUD_MONITORING).observe(time.perf_counter() - started)
    return JSONResponse(
        {
            "status": outcome,
            "incident_id": incident.incident_id,
            "state": incident.state,
            "fingerprint": alert.fingerprint,
        }
    )


async def alertmanager_alerts(request: Request) -> Response:
    """``POST /api/v2/alerts``: a list of Alertmanager ``PostableAlert``."""
    runtime: RouterRuntime = request.app.state.runtime
    started = time.perf_counter()
    try:
        _, postable = await _accepted_payload(runtime, request, _POSTABLE_ALERTS.validate_json)
    except RequestRefused as exc:
        return _refuse(runtime, exc)
    now = runtime.clock.now()
    timeout = runtime.config.resolve_timeout
    batch = [item.to_alert(now, timeout) for item in postable]
    try:
        outcomes = await runtime.writer.submit_alerts(batch) if batch else []
    except Exception as exc:  # noqa: BLE001 - answered 503: the sender will retry
        return _unavailable(exc)
    for outcome in outcomes:
        runtime.metrics.alerts_received.labels(ALERTMANAGER, outcome).inc()
    runtime.metrics.ingest_latency.labels(ALERTMANAGER).observe(time.perf_counter() - started)
    return Response(status_code=200)
