"""Local stand-ins for Slack, PagerDuty, Google Chat, a webhook consumer and an SMTP server.

The demo sends its notifications to them and the router tests check against them: the real
services cannot run here, so they are faked at the wire.

Each HTTP fake is a real HTTP server on 127.0.0.1 that checks payloads as the real service
does (and answers as it does: Slack ``ok``/``invalid_blocks``, PagerDuty 202/400/429, ...),
records what it accepted, and can be told to fail or to go down and come back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

PAGERDUTY_SEVERITIES = {"critical", "error", "warning", "info"}
SLACK_BLOCK_TYPES = {"section", "header", "divider", "context", "actions", "image", "rich_text"}


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)


class Invalid(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


@dataclass
class StandIn:
    """A real HTTP server; subclasses implement ``validate`` (raise Invalid) and ``accept``."""

    name: str = "fake"
    received: list[Received] = field(default_factory=list)
    rejected: list[tuple[int, Any]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def validate(self, path: str, query: dict[str, list[str]], body: Any) -> None:
        raise NotImplementedError

    def accept(self, body: Any) -> tuple[int, Any]:
        raise NotImplementedError

    def path(self) -> str:
        return "/"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path()}"

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (e.g. 500, 429) before accepting."""
        with self._lock:
            self.failures.extend(statuses)

    def start(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                split = urlsplit(self.path)
                query = parse_qs(split.query)
                status, answer = service._handle(split.path, query, dict(self.headers), raw)
                data = (
                    answer
                    if isinstance(answer, bytes)
                    else (
                        answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                    )
                )
                self.send_response(status)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(
        self, path: str, query: dict[str, list[str]], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any]:
        with self._lock:
            if self.failures:
                status = self.failures.pop(0)
                return status, {"message": "injected failure"}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, "invalid_payload"
        try:
            self.validate(path, query, body)
        except Invalid as exc:
            with self._lock:
                self.rejected.append((exc.status, exc.body))
            return exc.status, exc.body
        with self._lock:
            self.received.append(Received(path, query, headers, body))
        return self.accept(body)

    def bodies(self) -> list[Any]:
        with self._lock:
            return [item.body for item in self.received]


class SlackStandIn(StandIn):
    """Slack incoming webhook: ``/services/T…/B…/secret``, ``text`` or ``blocks``."""

    def path(self) -> str:
        return "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

    def validate(self, path: str, query: dict[str, list[str]], body: Any) -> None:
        if path != self.path():
            raise Invalid(404, "no_service")
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            raise Invalid(400, "no_text")
        if len(body.get("text", "")) > 40000:
            raise Invalid(400, "msg_too_long")
        blocks = body.get("blocks", [])
        if not isinstance(blocks, list) or len(blocks) > 50:
            raise Invalid(400, "invalid_blocks")
        for block in blocks:
            if block.get("type") not in SLACK_BLOCK_TYPES:
                raise Invalid(400, "invalid_blocks")
            if block["type"] == "section":
                _check_slack_section(block)
            if block["type"] == "actions":
                _check_slack_actions(block)

    def accept(self, body: Any) -> tuple[int, Any]:
        return 200, "ok"


def _check_slack_text(text: Any, limit: int) -> None:
    if not isinstance(text, dict) or text.get("type") not in ("mrkdwn", "plain_text"):
        raise Invalid(400, "invalid_blocks")
    if not 1 <= len(text.get("text", "")) <= limit:
        raise Invalid(400, "invalid_blocks")


def _check_slack_section(block: dict[str, Any]) -> None:
    """A section has a text (<= 3,000 characters), fields (<= 10, each <= 2,000), or both."""
    if "text" not in block and "fields" not in block:
        raise Invalid(400, "invalid_blocks")
    if "text" in block:
        _check_slack_text(block["text"], 3000)
    fields = block.get("fields", [])
    if not isinstance(fields, list) or len(fields) > 10:
        raise Invalid(400, "invalid_blocks")
    for item in fields:
        _check_slack_text(item, 2000)


def _check_slack_actions(block: dict[str, Any]) -> None:
    """1 to 25 buttons, each with a plain-text label (<= 75) and a URL (<= 3,000)."""
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
        raise Invalid(400, "invalid_blocks")
    for element in elements:
        if not isinstance(element, dict) or element.get("type") != "button":
            raise Invalid(400, "invalid_blocks")
        label = element.get("text")
        if not isinstance(label, dict) or label.get("type") != "plain_text":
            raise Invalid(400, "invalid_blocks")
        _check_slack_text(label, 75)
        url = element.get("url", "")
        if not isinstance(url, str) or len(url) > 3000:
            raise Invalid(400, "invalid_blocks")


class PagerDutyStandIn(StandIn):
    """PagerDuty Events API v2 ``/v2/enqueue``."""

    routing_key: str = "R0123456789abcdef0123456789abcde"

    def path(self) -> str:
        return "/v2/enqueue"

    def validate(self, path: str, query: dict[str, list[str]], body: Any) -> None:
        errors = []
        if path != self.path():
            raise Invalid(404, {"status": "not found"})
        if not isinstance(body, dict):
            raise Invalid(400, {"status": "invalid event", "errors": ["not an object"]})
        key = body.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            errors.append("'routing_key' must be 32 characters")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        dedup = body.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
            errors.append("'dedup_key' is invalid")
        if action in ("acknowledge", "resolve") and not dedup:
            errors.append("'dedup_key' is required")
        if action == "trigger":
            payload = body.get("payload")
            if not isinstance(payload, dict):
                errors.append("'payload' is missing")
            else:
                summary = payload.get("summary")
                if not isinstance(summary, str) or not 1 <= len(summary) <= 1024:
                    errors.append("'payload.summary' is invalid")
                if not isinstance(payload.get("source"), str) or not payload["source"]:
                    errors.append("'payload.source' is missing")
                if payload.get("severity") not in PAGERDUTY_SEVERITIES:
                    errors.append("'payload.severity' is invalid")
                details = payload.get("custom_details")
                if details is not None and not isinstance(details, dict):
                    errors.append("'payload.custom_details' is invalid")
        if errors:
            raise Invalid(
                400,
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
            )

    def accept(self, body: Any) -> tuple[int, Any]:
        return 202, {
            "status": "success",
            "message": "Event processed",
            "dedup_key": body.get("dedup_key"),
        }


class GoogleChatStandIn(StandIn):
    """Google Chat incoming webhook: ``/v1/spaces/S/messages?key=…&token=…``, ``text``."""

    def path(self) -> str:
        return "/v1/spaces/AAAA/messages?key=chat-key&token=chat-token"

    def validate(self, path: str, query: dict[str, list[str]], body: Any) -> None:
        if path != "/v1/spaces/AAAA/messages":
            raise Invalid(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
        if query.get("key") != ["chat-key"] or query.get("token") != ["chat-token"]:
            raise Invalid(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
        if not isinstance(body, dict) or not (body.get("text") or body.get("cardsV2")):
            raise Invalid(400, {"error": {"code": 400, "message": "Message cannot be empty"}})
        if len(body.get("text", "")) > 4096:
            raise Invalid(400, {"error": {"code": 400, "message": "text too long"}})

    def accept(self, body: Any) -> tuple[int, Any]:
        return 200, {"name": "spaces/AAAA/messages/1", "text": body.get("text", "")}


class WebhookStandIn(StandIn):
    """A consumer of Alertmanager's v4 webhook payload."""

    def path(self) -> str:
        return "/alerts"

    def validate(self, path: str, query: dict[str, list[str]], body: Any) -> None:
        required = {
            "version",
            "groupKey",
            "truncatedAlerts",
            "status",
            "receiver",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "alerts",
        }
        if not isinstance(body, dict) or not required <= body.keys() or body["version"] != "4":
            raise Invalid(400, {"error": "not an Alertmanager v4 payload"})
        for alert in body["alerts"]:
            if (
                not {
                    "status",
                    "labels",
                    "annotations",
                    "startsAt",
                    "endsAt",
                    "generatorURL",
                    "fingerprint",
                }
                <= alert.keys()
            ):
                raise Invalid(400, {"error": "alert fields missing"})

    def accept(self, body: Any) -> tuple[int, Any]:
        return 200, {"ok": True}


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@dataclass
class SmtpStandIn:
    mailbox: _Mailbox
    host: str
    port: int

    @property
    def messages(self) -> list[Message]:
        with self.mailbox.lock:
            return list(self.mailbox.messages)


@contextmanager
def smtp_server(port: int) -> Iterator[SmtpStandIn]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 collecting messages."""
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpStandIn(mailbox, "127.0.0.1", port)
    finally:
        controller.stop()
