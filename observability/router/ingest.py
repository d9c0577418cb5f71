"""Ingest endpoints: Cloud Monitoring's webhook and Alertmanager's ``POST /api/v2/alerts``.

Each request is authenticated, size-limited, validated, then made durable (appended to the
ingest journal with SQLite, stored in the tables with PostgreSQL: ``RouterRuntime.accept``);
only then is it answered 2xx. A storage failure answers 503 with ``Retry-After`` so the sender
tries again (Monitoring does; nothing is acknowledged unstored).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from observability.router.alert_store import (
    POSTABLE_ALERTS,
    alertmanager_submission,
    incident_submission,
)
from observability.router.auth import AuthError
from observability.router.incident import WebhookPayload, incident_fingerprint
from observability.router.journal import ALERTMANAGER, CLOUD_MONITORING, JournalRecord
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

ACCEPTED = "accepted"
"""The answer's status when the request is journaled: what it changed is known once applied
(``GET /api/v1/incidents/{id}`` lists each delivery with its outcome)."""


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
    received_at = runtime.clock.now()
    record = JournalRecord(CLOUD_MONITORING, received_at, body)
    try:
        outcomes = await runtime.accept(
            record, lambda: incident_submission(payload, body, received_at)
        )
    except Exception as exc:  # noqa: BLE001 - answered 503: the sender will retry
        return _unavailable(exc)
    runtime.metrics.ingest_latency.labels(CLOUD_MONITORING).observe(time.perf_counter() - started)
    incident = payload.incident
    return JSONResponse(
        {
            "status": outcomes[0] if outcomes else ACCEPTED,
            "incident_id": incident.incident_id,
            "state": incident.state,
            "fingerprint": incident_fingerprint(incident.incident_id),
        }
    )


async def alertmanager_alerts(request: Request) -> Response:
    """``POST /api/v2/alerts``: a list of Alertmanager ``PostableAlert``."""
    runtime: RouterRuntime = request.app.state.runtime
    started = time.perf_counter()
    try:
        body, postable = await _accepted_payload(runtime, request, POSTABLE_ALERTS.validate_json)
    except RequestRefused as exc:
        return _refuse(runtime, exc)
    if postable:
        received_at = runtime.clock.now()
        record = JournalRecord(ALERTMANAGER, received_at, body)
        timeout = runtime.config.resolve_timeout
        try:
            await runtime.accept(
                record, lambda: alertmanager_submission(postable, received_at, timeout)
            )
        except Exception as exc:  # noqa: BLE001 - answered 503: the sender will retry
            return _unavailable(exc)
    runtime.metrics.ingest_latency.labels(ALERTMANAGER).observe(time.perf_counter() - started)
    return Response(status_code=200)
