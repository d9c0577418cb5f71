"""Local stand-ins for Slack, PagerDuty, Google Chat, a webhook consumer, Microsoft Teams,
Opsgenie, Jira and an SMTP server.

The demo sends its notifications to them and the router tests check against them: the real
services cannot run here, so they are faked at the wire.

Each HTTP fake is a real HTTP server on 127.0.0.1 that checks payloads as the real service
does (and answers as it does: Slack ``ok``/``invalid_blocks``, PagerDuty 202/400/429, ...),
records what it accepted, and can be told to fail or to go down and come back.
"""

from __future__ import annotations

import base64
import json
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar
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


@dataclass(frozen=True)
class Request:
    """One request as a stand-in sees it: header names lower-cased, the body parsed from JSON."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    def recorded(self, path: str) -> Received:
        """What a stand-in keeps of this request, under ``path``."""
        return Received(path, self.query, self.headers, self.body)


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
    failed_at: list[float] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    retry_after: str = "1"
    """``Retry-After`` sent with injected 429 and 503 answers."""

    def validate(self, path: str, query: dict[str, list[str]], body: Any) -> None:
        raise NotImplementedError

    def accept(self, body: Any) -> tuple[int, Any]:
        raise NotImplementedError

    def respond(self, request: Request) -> tuple[int, Any]:
        """Answer one request; by default a POST-only service with ``validate`` and ``accept``.
        Services with several endpoints or authentication override this."""
        if request.method != "POST":
            return 405, {"error": "method not allowed"}
        self.validate(request.path, request.query, request.body)
        with self._lock:
            self.received.append(request.recorded(request.path))
        return self.accept(request.body)

    def path(self) -> str:
        return "/"

    def retry_after_for(self, status: int) -> str:
        """The ``Retry-After`` of a 429 or 503 answer."""
        return self.retry_after

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
                status, answer = service._handle(self.command, self.path, dict(self.headers), raw)
                data = (
                    answer
                    if isinstance(answer, bytes)
                    else (
                        answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                    )
                )
                self.send_response(status)
                self.send_header("content-length", str(len(data)))
                if status in (429, 503):
                    self.send_header("retry-after", service.retry_after_for(status))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST

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
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any]:
        """Answer one request: an injected failure first, else ``respond``'s answer, or the
        status of the ``Invalid`` it raised (recorded in ``rejected``)."""
        with self._lock:
            if self.failures:
                status = self.failures.pop(0)
                self.failed_at.append(time.monotonic())
                return status, {"message": "injected failure"}
        try:
            body = json.loads(raw) if raw or method == "POST" else None
        except ValueError:
            return 400, "invalid_payload"
        split = urlsplit(target)
        headers = {k.lower(): v for k, v in headers.items()}
        try:
            return self.respond(Request(method, split.path, parse_qs(split.query), headers, body))
        except Invalid as exc:
            with self._lock:
                self.rejected.append((exc.status, exc.body))
            return exc.status, exc.body

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


@dataclass
class PagerDutyStandIn(StandIn):
    """PagerDuty Events API v2 ``/v2/enqueue``.

    With ``rate_limit`` = (events, seconds) it throttles as PagerDuty does per routing key
    (120 events a minute there): in each window of ``seconds`` from the first event, events
    past the first ``events`` are answered 429 (``Retry-After``: the rest of the window) and
    not processed; ``throttled`` counts them.
    """

    routing_key: ClassVar[str] = "R0123456789abcdef0123456789abcde"
    rate_limit: tuple[int, float] | None = None
    throttled: int = 0
    _window: tuple[float, int] = (0.0, 0)
    """(when the current window started, events accepted in it)."""

    def path(self) -> str:
        return "/v2/enqueue"

    def respond(self, request: Request) -> tuple[int, Any]:
        if self.rate_limit is not None and request.method == "POST" and request.path == self.path():
            events, seconds = self.rate_limit
            with self._lock:
                started, count = self._window
                now = time.monotonic()
                if now - started >= seconds:
                    started, count = now, 0
                if count >= events:
                    self.throttled += 1
                    self._window = (started, count)
                    return 429, {"status": "throttle event", "message": "Too many requests"}
                self._window = (started, count + 1)
        return super().respond(request)

    def retry_after_for(self, status: int) -> str:
        if status != 429 or self.rate_limit is None:
            return self.retry_after
        with self._lock:
            left = self._window[0] + self.rate_limit[1] - time.monotonic()
        return str(max(1, math.ceil(left)))

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


ADAPTIVE_CARD_ELEMENTS = {
    "TextBlock",
    "RichTextBlock",
    "Image",
    "Media",
    "Container",
    "ColumnSet",
    "FactSet",
    "ImageSet",
    "ActionSet",
    "Table",
}
ADAPTIVE_CARD_COLORS = {"Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"}
TEAMS_PAYLOAD_LIMIT = 28 * 1024


class TeamsWorkflowStandIn(StandIn):
    """A Teams Workflows (Power Automate) webhook: ``/workflows/…/invoke?…&sig=…``, a message
    whose attachments are Adaptive Cards; answered 202 Accepted."""

    def path(self) -> str:
        return "/workflows/0a1b/triggers/manual/paths/invoke?api-version=2016-06-01&sig=wf-sig"

    def validate(self, path: str, query: dict[str, list[str]], body: Any) -> None:
        if path != "/workflows/0a1b/triggers/manual/paths/invoke":
            raise Invalid(404, {"error": {"code": "WorkflowNotFound"}})
        if query.get("sig") != ["wf-sig"]:
            raise Invalid(401, {"error": {"code": "DirectApiAuthorizationRequired"}})
        if len(json.dumps(body).encode()) > TEAMS_PAYLOAD_LIMIT:
            raise Invalid(413, {"error": {"code": "MessageSizeTooBig"}})
        attachments = body.get("attachments") if isinstance(body, dict) else None
        if body.get("type") != "message" or not isinstance(attachments, list) or not attachments:
            raise Invalid(400, {"error": {"code": "InvalidRequestContent"}})
        for attachment in attachments:
            if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
                raise Invalid(400, {"error": {"message": "unsupported contentType"}})
            _check_adaptive_card(attachment.get("content"))

    def accept(self, body: Any) -> tuple[int, Any]:
        return 202, b""


def _check_adaptive_card(card: Any) -> None:
    """The Adaptive Card schema's rules Teams enforces on what the router sends."""

    def bad(why: str) -> Invalid:
        return Invalid(400, {"error": {"code": "InvalidAdaptiveCard", "message": why}})

    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        raise bad("content.type must be AdaptiveCard")
    version = card.get("version")
    if not isinstance(version, str) or not re.fullmatch(r"1\.[0-6]", version):
        raise bad("content.version must be 1.0 to 1.6")
    if not isinstance(card.get("body"), list):
        raise bad("content.body must be a list")
    for element in card["body"]:
        if not isinstance(element, dict) or element.get("type") not in ADAPTIVE_CARD_ELEMENTS:
            raise bad("unknown element type")
        if element["type"] == "TextBlock":
            if not isinstance(element.get("text"), str):
                raise bad("TextBlock.text must be a string")
            if element.get("color", "Default") not in ADAPTIVE_CARD_COLORS:
                raise bad("TextBlock.color is invalid")
            if element.get("weight", "Default") not in ("Lighter", "Default", "Bolder"):
                raise bad("TextBlock.weight is invalid")


class TeamsConnectorStandIn(StandIn):
    """The older Office 365 connector (``/webhookb2/…/IncomingWebhook/…``): a MessageCard with a
    summary or a text; answered 200 ``1``."""

    def path(self) -> str:
        return "/webhookb2/7e1c@42/IncomingWebhook/9f2d/aa11"

    def validate(self, path: str, query: dict[str, list[str]], body: Any) -> None:
        if path != self.path():
            raise Invalid(404, "Webhook not found")
        if not isinstance(body, dict) or "MessageCard" not in (body.get("@type"), body.get("type")):
            raise Invalid(400, "Bad payload received by generic incoming webhook.")
        if not (body.get("text") or body.get("summary")):
            raise Invalid(400, "Summary or Text is required.")
        color = body.get("themeColor")
        if color is not None and not re.fullmatch(r"[0-9A-Fa-f]{6}", str(color)):
            raise Invalid(400, "themeColor is invalid")

    def accept(self, body: Any) -> tuple[int, Any]:
        return 200, "1"


OPSGENIE_RESPONDER_TYPES = {"team", "user", "escalation", "schedule"}


@dataclass
class OpsgenieStandIn(StandIn):
    """Opsgenie Alerts API v2 (create, close, update by alias) with ``GenieKey`` auth; keeps
    the alerts by alias as Opsgenie does (a create for an open alias counts it up)."""

    api_key: str = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def path(self) -> str:
        return "/"

    def respond(self, request: Request) -> tuple[int, Any]:
        method, headers = request.method, request.headers
        if headers.get("authorization") != f"GenieKey {self.api_key}":
            raise Invalid(401, _opsgenie_answer("Key format is not valid!"))
        if headers.get("content-type", "").split(";")[0] != "application/json":
            raise Invalid(415, _opsgenie_answer("Unsupported media type"))
        parts = request.path.strip("/").split("/")
        if method == "POST" and parts == ["v2", "alerts"]:
            self._create(request.body)
        elif len(parts) == 4 and parts[:2] == ["v2", "alerts"] and method in ("POST", "PUT"):
            if request.query.get("identifierType") != ["alias"]:
                raise Invalid(422, _opsgenie_answer("identifierType must be alias here"))
            self._update(method, parts[2], parts[3], request.body)
        else:
            raise Invalid(404, _opsgenie_answer("Not found"))
        with self._lock:
            self.received.append(request.recorded(f"{method} {request.path}"))
        return 202, _opsgenie_answer("Request will be processed")

    def _create(self, body: Any) -> None:
        errors: dict[str, str] = {}
        if not isinstance(body, dict):
            raise Invalid(422, _opsgenie_answer("Request body is not processable"))
        message = body.get("message")
        if not isinstance(message, str) or not 1 <= len(message) <= 130:
            errors["message"] = "Message can not be empty and is limited to 130 characters"
        for name, limit in (("alias", 512), ("description", 15000), ("entity", 512)):
            if len(str(body.get(name, ""))) > limit:
                errors[name] = f"limited to {limit} characters"
        if len(str(body.get("source", ""))) > 100:
            errors["source"] = "limited to 100 characters"
        tags = body.get("tags", [])
        if not isinstance(tags, list) or len(tags) > 20 or any(len(str(t)) > 50 for t in tags):
            errors["tags"] = "at most 20 tags of 50 characters"
        details = body.get("details", {})
        if not isinstance(details, dict) or not all(isinstance(v, str) for v in details.values()):
            errors["details"] = "details must map strings to strings"
        if "priority" in body and body["priority"] not in ("P1", "P2", "P3", "P4", "P5"):
            errors["priority"] = "Priority should be one of [P1, P2, P3, P4, P5]"
        for responder in body.get("responders", []):
            if responder.get("type") not in OPSGENIE_RESPONDER_TYPES or not (
                responder.get("id") or responder.get("name") or responder.get("username")
            ):
                errors["responders"] = "responder needs a type and an id, name or username"
        if errors:
            raise Invalid(
                422, {**_opsgenie_answer("Request body is not processable."), "errors": errors}
            )
        alias = str(body.get("alias") or message)
        with self._lock:
            current = self.alerts.get(alias)
            if current and current["status"] == "open":
                current["count"] += 1
                return
            self.alerts[alias] = {"status": "open", "count": 1, "create": body}

    def _update(self, method: str, alias: str, action: str, body: Any) -> None:
        with self._lock:
            alert = self.alerts.get(alias)
            if method == "POST" and action == "close":
                if alert:
                    alert["status"] = "closed"
                return
            if method == "PUT" and action in ("message", "description") and isinstance(body, dict):
                if alert:
                    alert["create"][action] = body.get(action, "")
                return
        raise Invalid(404, _opsgenie_answer("Not found"))


def _opsgenie_answer(result: str) -> dict[str, Any]:
    return {"result": result, "took": 0.01, "requestId": str(uuid.uuid4())}


JIRA_PRIORITIES = {"Highest", "High", "Medium", "Low", "Lowest"}
JIRA_ISSUE_TYPES = {"Bug", "Task", "Incident"}


@dataclass
class JiraStandIn(StandIn):
    """Jira's REST API v2/v3 (issue create, edit, comment, transitions, JQL search) with basic
    authentication (an e-mail and an API token), one project ``OPS``, the workflow To Do ->
    Done (transition ``Done``, or ``Won't Do`` with that resolution) -> ``Reopen``."""

    email: str = "oncall@example.com"
    token: str = "ATATT3xFfGF0-jira-token"
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)

    def path(self) -> str:
        return "/rest/api/2"

    def respond(self, request: Request) -> tuple[int, Any]:
        expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            raise Invalid(401, {"errorMessages": ["You are not authenticated."], "errors": {}})
        match = re.fullmatch(r"/rest/api/([23])/(.+)", request.path)
        if not match:
            raise Invalid(404, {"errorMessages": ["Not found"]})
        version, route = match.groups()
        with self._lock:
            answer = self._route(request.method, version, route, request.body)
            self.received.append(request.recorded(f"{request.method} {request.path}"))
        return answer

    def _route(self, method: str, version: str, route: str, body: Any) -> tuple[int, Any]:
        parts = route.split("/")
        if method == "POST" and route in ("search", "search/jql"):
            return 200, {"issues": self._search(body)}
        if method == "POST" and route == "issue":
            return 201, self._create(version, body)
        if len(parts) < 2 or parts[0] != "issue" or parts[1] not in self.issues:
            raise Invalid(404, {"errorMessages": ["Issue does not exist"], "errors": {}})
        issue = self.issues[parts[1]]
        action = "/".join(parts[2:])
        if method == "PUT" and not action:
            issue["fields"].update(self._fields(version, body, creating=False))
            issue["updates"] += 1
            return 204, b""
        if method == "POST" and action == "comment":
            if not isinstance(body, dict) or not _jira_text(version, body.get("body")):
                raise Invalid(400, {"errorMessages": ["Comment body can not be empty!"]})
            issue["comments"].append(body["body"])
            return 201, {"id": str(len(issue["comments"]))}
        if method == "GET" and action == "transitions":
            return 200, {"transitions": _jira_transitions(issue)}
        if method == "POST" and action == "transitions":
            self._transition(issue, body)
            return 204, b""
        raise Invalid(405, {"errorMessages": ["Method not allowed"]})

    def _search(self, body: Any) -> list[dict[str, Any]]:
        jql = body.get("jql", "") if isinstance(body, dict) else ""
        project = re.search(r'project="([^"]*)"', jql)
        label = re.search(r'labels="([^"]*)"', jql)
        if not project or not label:
            raise Invalid(400, {"errorMessages": ["Error in the JQL Query"], "errors": {}})
        wont_fix = re.search(r'resolution != "([^"]*)"', jql)
        window = re.search(r"resolutiondate >= -(\d+)m", jql)
        found: list[dict[str, Any]] = []
        for key, issue in self.issues.items():
            fields = issue["fields"]
            if fields["project"]["key"] != project[1] or label[1] not in fields["labels"]:
                continue
            if wont_fix and issue["resolution"] == wont_fix[1]:
                continue
            done = issue["status"] == "Done"
            if "statusCategory != Done" in jql and done:
                continue
            if window and done and time.time() - issue["resolved_at"] > int(window[1]) * 60:
                continue
            found.append(
                {
                    "key": key,
                    "fields": {
                        "status": {
                            "name": issue["status"],
                            "statusCategory": {"key": "done" if done else "new"},
                        }
                    },
                }
            )
        found.sort(key=lambda item: item["fields"]["status"]["statusCategory"]["key"] == "done")
        return found[: int(body.get("maxResults", 50))]

    def _create(self, version: str, body: Any) -> dict[str, Any]:
        fields = self._fields(version, body, creating=True)
        key = f"OPS-{len(self.issues) + 1}"
        self.issues[key] = {
            "fields": fields,
            "status": "To Do",
            "resolution": None,
            "resolved_at": 0.0,
            "comments": [],
            "updates": 0,
            "transitions": [],
        }
        return {"id": str(10000 + len(self.issues)), "key": key, "self": f"/rest/api/2/issue/{key}"}

    def _fields(self, version: str, body: Any, creating: bool) -> dict[str, Any]:
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            raise Invalid(400, {"errorMessages": ["fields are required"], "errors": {}})
        errors: dict[str, str] = {}
        if (fields.get("project") or {}).get("key") != "OPS":
            errors["project"] = "valid project is required"
        if (fields.get("issuetype") or {}).get("name") not in JIRA_ISSUE_TYPES:
            errors["issuetype"] = "valid issue type is required"
        summary = fields.get("summary")
        if creating and (not isinstance(summary, str) or not summary.strip()):
            errors["summary"] = "You must specify a summary of the issue."
        elif isinstance(summary, str) and (len(summary) > 255 or "\n" in summary):
            errors["summary"] = "Summary must be less than 255 characters and one line."
        labels = fields.get("labels", [])
        if not isinstance(labels, list) or any(" " in str(label) for label in labels):
            errors["labels"] = "A label cannot contain spaces."
        if "priority" in fields and (fields["priority"] or {}).get("name") not in JIRA_PRIORITIES:
            errors["priority"] = "Specify the Priority (name) in the string format"
        if "description" in fields and not _jira_text(version, fields["description"]):
            errors["description"] = "Operation value must be an Atlassian Document"
        known = {"project", "issuetype", "summary", "labels", "priority", "description"}
        for name in fields.keys() - known:
            if not re.fullmatch(r"customfield_\d+", name):
                errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen"
        if errors:
            raise Invalid(400, {"errorMessages": [], "errors": errors})
        return fields

    def _transition(self, issue: dict[str, Any], body: Any) -> None:
        wanted = ((body or {}).get("transition") or {}).get("id")
        for transition in _jira_transitions(issue):
            if transition["id"] == wanted:
                issue["transitions"].append(transition["name"])
                issue["status"] = transition["to"]
                issue["resolution"] = transition.get("resolution")
                issue["resolved_at"] = time.time() if issue["status"] == "Done" else 0.0
                return
        raise Invalid(400, {"errorMessages": ["Transition id is not valid for this issue"]})


def _jira_transitions(issue: dict[str, Any]) -> list[dict[str, Any]]:
    if issue["status"] == "Done":
        return [{"id": "11", "name": "Reopen", "to": "To Do"}]
    return [
        {"id": "31", "name": "Done", "to": "Done", "resolution": "Done"},
        {"id": "41", "name": "Won't Do", "to": "Done", "resolution": "Won't Do"},
    ]


def _jira_text(version: str, value: Any) -> bool:
    """API v2 takes wiki text; v3 an Atlassian Document (``{type: doc, version: 1, …}``)."""
    if version == "2":
        return isinstance(value, str) and bool(value.strip())
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )


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


Served = TypeVar("Served", bound=Mapping[str, StandIn])


@contextmanager
def serving(standins: Served) -> Iterator[Served]:
    """Start every stand-in; on exit stop them together (each takes up to half a second to
    notice), those already started too when a later one fails to start."""
    try:
        for standin in standins.values():
            standin.start()
        yield standins
    finally:
        with ThreadPoolExecutor(max(1, len(standins))) as pool:
            list(pool.map(lambda standin: standin.stop(), standins.values()))


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


class HangingPeer:
    """A TCP server that accepts connections and never answers: a Google API (Cloud
    Logging) that hangs, for what the router does when its calls run into their deadlines."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(256)
        self.port: int = self._socket.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, name="hanging-peer", daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(connection)

    def close(self) -> None:
        self._socket.close()
        for connection in self._held:
            connection.close()
