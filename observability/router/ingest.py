"""Ingest endpoints: Cloud Monitoring's webhook and Alertmanager's ``POST /api/v2/alerts``.

Each request is authenticated, size-limited, validated, then made durable (appended to the
ingest journal with SQLite, stored in the tables with PostgreSQL: ``RouterRuntime.accept``);
only then is it answered 2xx. A storage failure answers 503 with ``Retry-After`` so the sender
tries again (Monitoring does; nothing is acknowledged unstored).

The endpoints are plain ASGI apps bound to the runtime: the app mounts them as its routes and
``FastIngest`` calls them directly. They read the two headers they need from the scope and
send their answer without Starlette's Request and Response objects, which cost as much CPU as
the rest of a request; refusals are rare and use the shared error responses.
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from typing import Any, Generic, TypeVar

from prometheus_client import Histogram
from pydantic import ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from observability.router.alert import PostableAlert
from observability.router.alert_store import (
    POSTABLE_ALERTS,
    Outcome,
    alertmanager_submission,
    incident_submission,
)
from observability.router.auth import AuthError
from observability.router.incident import WebhookPayload, incident_fingerprint
from observability.router.journal import ALERTMANAGER, CLOUD_MONITORING, JournalRecord
from observability.router.responses import (
    RequestRefused,
    error_response,
    json_body,
    receive_body,
    refused_response,
    request_header,
    validation_message,
)
from observability.router.runtime import RouterRuntime

log = logging.getLogger(__name__)

Payload = TypeVar("Payload")

Answer = tuple[list[tuple[bytes, bytes]], bytes]
"""A 200 answer: its raw headers and its body."""

ACCEPTED = "accepted"
"""The answer's status when the request is journaled: what it changed is known once applied
(``GET /api/v1/incidents/{id}`` lists each delivery with its outcome)."""

_JSON_CONTENT_TYPE = (b"content-type", b"application/json")
_EMPTY_HEADERS = ((b"content-length", b"0"),)


_ESCAPED_NUL = b"\\u0000"
"""How JSON spells NUL (a raw NUL byte in a string is invalid JSON, refused by the parser)."""


def nul_field(value: Any, where: str = "body") -> str | None:
    """The first field (dotted path) whose name or text holds NUL, or None.

    Neither Cloud Monitoring nor Alertmanager sends one, and PostgreSQL cannot store it in
    text: such a request was answered 503 (Monitoring retries that forever) or, in a label,
    acknowledged and then failed every routing pass. So it is refused, on both databases.
    """
    pending: list[tuple[str, Any]] = [(where, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return path
        if isinstance(item, dict):
            for name, child in item.items():
                if "\x00" in name:
                    return path
                pending.append((f"{path}.{name}" if path != "body" else name, child))
        elif isinstance(item, list):
            pending.extend(
                (f"{path}.{index}" if path != "body" else str(index), child)
                for index, child in enumerate(item)
            )
    return None


class IngestEndpoint(ABC, Generic[Payload]):
    """One ingest path: authenticate, read the bounded body, parse, accept, answer.

    Both endpoints refuse the same way, so senders see one error shape and
    ``requests_invalid`` counts the same reasons; the raw body is kept for the incident log.
    """

    def __init__(
        self, runtime: RouterRuntime, source: str, parse: Callable[[bytes], Payload]
    ) -> None:
        self.runtime = runtime
        self.source = source
        self._parse = parse
        self._latency: Histogram | None = None  # labelled on first use, as before

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = self.runtime
        started = time.perf_counter()
        try:
            body, payload = await self._accepted_payload(scope, receive)
        except RequestRefused as exc:
            runtime.metrics.requests_invalid.labels(exc.reason).inc()
            await refused_response(exc)(scope, receive, send)
            return
        except ClientDisconnect:
            return  # the sender left mid-body: nothing was accepted, and nobody to answer
        try:
            outcomes = await self.accept(body, payload)
        except Exception as exc:  # noqa: BLE001 - answered 503: the sender will retry
            log.error("could not store alerts: %s", type(exc).__name__)
            unavailable = error_response(
                503, "the alert store is unavailable, retry later", {"Retry-After": "5"}
            )
            await unavailable(scope, receive, send)
            return
        latency = self._latency
        if latency is None:
            latency = self._latency = runtime.metrics.ingest_latency.labels(self.source)
        latency.observe(time.perf_counter() - started)
        headers, content = self.answer(payload, outcomes)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _accepted_payload(self, scope: Scope, receive: Receive) -> tuple[bytes, Payload]:
        """The raw body and its parsed payload, or RequestRefused (unauthorized, too large,
        invalid)."""
        runtime = self.runtime
        headers = scope["headers"]
        authorization = request_header(headers, b"authorization") or b""
        try:
            runtime.auth.check_ingest(
                scope.get("query_string", b""), authorization.decode("latin-1")
            )
        except AuthError as exc:
            raise RequestRefused(
                401, str(exc), "unauthorized", {"WWW-Authenticate": exc.challenge}
            ) from None
        body = await receive_body(
            receive, request_header(headers, b"content-length"), runtime.settings.max_body_bytes
        )
        try:
            payload = self._parse(body)
        except ValidationError as exc:
            status, message, reason = validation_message(exc)
            raise RequestRefused(status, message, reason) from None
        if _ESCAPED_NUL in body:  # rare: only then is the body walked
            where = nul_field(json.loads(body))
            if where is not None:
                raise RequestRefused(422, f"{where}: must not contain NUL (U+0000)", "invalid")
        return body, payload

    @abstractmethod
    async def accept(self, body: bytes, payload: Payload) -> list[Outcome] | None:
        """Make the request durable (``RouterRuntime.accept``); raises when it could not be."""

    @abstractmethod
    def answer(self, payload: Payload, outcomes: list[Outcome] | None) -> Answer:
        """The 200 answer once accepted."""


class CloudMonitoringWebhook(IngestEndpoint[WebhookPayload]):
    """``POST /v1/webhooks/cloud-monitoring``: one incident event per request."""

    def __init__(self, runtime: RouterRuntime) -> None:
        super().__init__(runtime, CLOUD_MONITORING, WebhookPayload.model_validate_json)

    async def accept(self, body: bytes, payload: WebhookPayload) -> list[Outcome] | None:
        received_at = self.runtime.clock.now()
        record = JournalRecord(CLOUD_MONITORING, received_at, body)
        return await self.runtime.accept(
            record, partial(incident_submission, payload, body, received_at)
        )

    def answer(self, payload: WebhookPayload, outcomes: list[Outcome] | None) -> Answer:
        incident = payload.incident
        content = json_body(
            {
                "status": outcomes[0] if outcomes else ACCEPTED,
                "incident_id": incident.incident_id,
                "state": incident.state,
                "fingerprint": incident_fingerprint(incident.incident_id),
            }
        )
        headers = [(b"content-length", str(len(content)).encode("latin-1")), _JSON_CONTENT_TYPE]
        return headers, content


class AlertmanagerAlerts(IngestEndpoint[list[PostableAlert]]):
    """``POST /api/v2/alerts``: a list of Alertmanager ``PostableAlert``; an empty 200."""

    def __init__(self, runtime: RouterRuntime) -> None:
        super().__init__(runtime, ALERTMANAGER, POSTABLE_ALERTS.validate_json)

    async def accept(self, body: bytes, postable: list[PostableAlert]) -> list[Outcome] | None:
        if not postable:
            return None
        received_at = self.runtime.clock.now()
        record = JournalRecord(ALERTMANAGER, received_at, body)
        submission = partial(
            alertmanager_submission, postable, received_at, self.runtime.config.resolve_timeout
        )
        return await self.runtime.accept(record, submission)

    def answer(self, payload: list[PostableAlert], outcomes: list[Outcome] | None) -> Answer:
        return list(_EMPTY_HEADERS), b""  # a fresh list: middleware may add to it
