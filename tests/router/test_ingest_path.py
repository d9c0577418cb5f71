"""The ingest hot path's shortcuts agree with the general code they stand in for."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import select
from starlette.responses import JSONResponse, Response
from starlette.types import Message

from observability.router.alert_store import IncidentEvent, Submission, write
from observability.router.app import create_asgi
from observability.router.auth import _query_token
from observability.router.clock import ManualClock
from observability.router.config import parse_config
from observability.router.dispatcher import Dispatcher
from observability.router.incident import WebhookPayload, incident_alert, incident_fingerprint
from observability.router.journal import ALERTMANAGER, CLOUD_MONITORING
from observability.router.metrics import RouterMetrics
from observability.router.server import CoalescingTransport
from observability.router.settings import load_router_settings
from observability.router.store import Store, alerts, group_alerts, groups, incident_events
from tests.router.harness import incident

CONFIG = """
route:
  receiver: default
  group_by: [alertname, dag_id]
  group_wait: 30s
  routes:
    - matchers: ['team="data"']
      receiver: data
      continue: true
    - matchers: ['dag_id=~"dag_.*"']
      receiver: dags
receivers:
  - name: default
  - name: data
  - name: dags
"""


@pytest.mark.parametrize(
    "query",
    [
        b"",
        b"a=b",
        b"auth_token=abc",
        b"x=1&auth_token=a%20b+c&auth_token=z",
        b"auth_token",
        b"auth_token=",
        b"a=auth_token",
        b"auth%5Ftoken=q",
        b"auth_token=%C3%A9\xe9",
    ],
)
def test_query_token_reads_as_starlette_does(query: bytes) -> None:
    expected = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True)).get("auth_token")
    assert _query_token(query) == expected


def _event(body: dict[str, Any], now: float) -> Submission:
    payload = WebhookPayload.model_validate(body)
    alert = incident_alert(payload.incident, now)
    text = json.dumps(body)
    return Submission(incident=IncidentEvent(alert.incident_id or "", "open", alert, text))


def _tables(store: Store) -> dict[str, Any]:
    with store.read() as connection:
        return {
            "alerts": sorted(
                (row.fingerprint, row.pending, row.labels)
                for row in connection.execute(select(alerts))
            ),
            "groups": sorted(
                (row.id, row.receiver, row.next_flush_at, row.labels)
                for row in connection.execute(select(groups))
            ),
            "members": sorted(tuple(row) for row in connection.execute(select(group_alerts))),
            "events": sorted(
                (row.incident_id, row.outcome, json.dumps(row.payload))
                for row in connection.execute(select(incident_events))
            ),
        }


def test_sqlite_write_routes_inline_like_the_dispatcher(tmp_path: Path) -> None:
    """The writer's own routing (SQLite) leaves the tables as routing them later does."""
    config = parse_config(CONFIG, "test.yaml", tmp_path)
    now = 1_000_000.0
    bodies = [
        incident(f"inc-{i}", dag_id=f"dag_{i % 3}", team="data" if i % 2 else "ml")
        for i in range(12)
    ]
    for index, body in enumerate(bodies):
        body["incident"]["started_at"] = now - (100 if index == 0 else 0)  # late: flush now

    inline = Store(f"sqlite:///{tmp_path / 'inline.db'}")
    inline.create_schema()
    with inline.write() as connection:
        batch = [_event(body, now) for body in bodies + bodies[:2]]  # two duplicates
        write(connection, inline, batch, now, config)
    assert [s.outcomes for s in batch[-2:]] == [["duplicate"], ["duplicate"]]
    assert all(s.outcomes == ["stored"] for s in batch[:-2])

    later = Store(f"sqlite:///{tmp_path / 'later.db'}")
    later.create_schema()
    with later.write() as connection:
        write(connection, later, [_event(body, now) for body in bodies], now)
    Dispatcher(later, ManualClock(now), lambda: config, RouterMetrics()).route_pending(config)

    got, expected = _tables(inline), _tables(later)
    assert got == expected
    assert len(got["groups"]) == 6  # 3 dags on the data route and 3 on the dags route
    assert all(not pending for _, pending, _ in got["alerts"])
    assert json.loads(got["events"][0][2])["incident"]["incident_id"] == "inc-0"
    inline.dispose()
    later.dispose()


def test_sqlite_write_lets_a_close_resolve_and_never_reopen(tmp_path: Path) -> None:
    config = parse_config(CONFIG, "test.yaml", tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    store.create_schema()
    opened = incident("x-1", dag_id="dag_1")
    closed = incident("x-1", state="closed", dag_id="dag_1")

    def send(body: dict[str, Any], now: float) -> list[str]:
        payload = WebhookPayload.model_validate(body)
        alert = incident_alert(payload.incident, now)
        event = IncidentEvent("x-1", payload.incident.state, alert, json.dumps(body))
        submission = Submission(incident=event)
        with store.write() as connection:
            write(connection, store, [submission], now, config)
        return list(submission.outcomes)

    assert send(opened, 10.0) == ["stored"]
    assert send(closed, 20.0) == ["stored"]
    reopened = incident("x-1", state="open", dag_id="dag_1")
    assert send(reopened, 30.0) == ["duplicate"]
    with store.read() as connection:
        row = connection.execute(select(alerts)).one()
    assert row.ends_at == 20.0 and row.incident_state == "closed" and not row.pending
    store.dispose()


def test_the_first_copy_of_a_state_in_one_batch_is_the_stored_event_and_alert(
    tmp_path: Path,
) -> None:
    """Two deliveries of one incident state applied in one batch (Monitoring retried while
    the first was still in the journal), differing in their summary: the event kept in the
    incident's history is the one the alert was made from."""
    config = parse_config(CONFIG, "test.yaml", tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    store.create_schema()
    submissions = []
    for summary in ("first delivery", "retried delivery"):
        body = incident("x-2", dag_id="dag_1")
        body["incident"]["summary"] = summary
        payload = WebhookPayload.model_validate(body)
        alert = incident_alert(payload.incident, 10.0)
        event = IncidentEvent("x-2", "open", alert, json.dumps(body))
        submissions.append(Submission(incident=event))
    with store.write() as connection:
        write(connection, store, submissions, 10.0, config)
    assert [s.outcomes for s in submissions] == [["stored"], ["duplicate"]]
    with store.read() as connection:
        stored = connection.execute(select(incident_events.c.payload)).scalar_one()
        annotations = connection.execute(select(alerts.c.annotations)).scalar_one()
    assert stored["incident"]["summary"] == "first delivery"
    assert annotations["summary"] == "first delivery"
    store.dispose()


class _Transport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_coalescing_transport_sends_one_step_in_one_write() -> None:
    async def scenario() -> _Transport:
        inner = _Transport()
        transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"body")
        assert inner.sent == []
        await asyncio.sleep(0)
        assert inner.sent == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        transport.write(b"last")
        transport.close()  # what is pending goes out before the close
        assert inner.sent[-1] == b"last" and inner.closed
        assert transport.get_extra_info("peername") == "info:peername"
        await asyncio.sleep(0)
        return inner

    inner = asyncio.run(scenario())
    assert len(inner.sent) == 2


Exchange = tuple[int, list[tuple[bytes, bytes]], bytes]


async def _exchange(
    app: Any,
    method: str,
    path: str,
    query: bytes = b"",
    headers: tuple[tuple[bytes, bytes], ...] = (),
    chunks: tuple[bytes, ...] = (b"",),
) -> tuple[Exchange, int]:
    """One request through ``app`` as an ASGI server makes it: (status, headers, body) and
    how many body messages the app read."""
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"router.test"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 9093),
        "state": {},
    }
    await app(scope, receive, send)
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return (sent[0]["status"], list(sent[0]["headers"]), body), read


async def _sender_leaves_mid_body(app: Any, first_chunk: bytes) -> list[Message]:
    """What ``app`` sends when the client disconnects after ``first_chunk`` of the body."""
    parts: list[Message] = [
        {"type": "http.request", "body": first_chunk, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return parts.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": WEBHOOK,
        "query_string": f"auth_token={TOKEN}".encode(),
        "headers": [(b"host", b"router.test")],
    }
    await app(scope, receive, send)
    return sent


def _basic(user: str, password: str) -> tuple[bytes, bytes]:
    return b"authorization", b"Basic " + base64.b64encode(f"{user}:{password}".encode())


WEBHOOK = "/v1/webhooks/cloud-monitoring"
TOKEN = "ingest-token-0123456789"
LIMIT = 4096


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Exchange:
    """What the error answers were built with before the lean path: Starlette's JSONResponse."""
    response = JSONResponse({"error": message, "status": status}, status, headers)
    return status, response.raw_headers, bytes(response.body)


CHALLENGE = {"WWW-Authenticate": 'Basic realm="composer-obs-router", charset="UTF-8"'}
CASES: list[tuple[str, dict[str, Any], Exchange, str]] = [
    (
        "anonymous",
        {},
        _error(401, "authentication required: ?auth_token=, basic auth or bearer token", CHALLENGE),
        "unauthorized",
    ),
    (
        "wrong query token",
        {"query": b"auth_token=nope"},
        _error(401, "invalid auth_token", CHALLENGE),
        "unauthorized",
    ),
    (
        "wrong basic password",
        {"headers": (_basic("monitoring", "nope"),)},
        _error(401, "invalid basic auth credentials", CHALLENGE),
        "unauthorized",
    ),
    (
        "admin token as bearer",
        {"headers": ((b"authorization", b"Bearer admin-token-0123456789"),)},
        _error(401, "invalid bearer token", CHALLENGE),
        "unauthorized",
    ),
    (
        "invalid content-length",
        {"query": f"auth_token={TOKEN}".encode(), "headers": ((b"content-length", b"12x"),)},
        _error(400, "invalid Content-Length"),
        "malformed",
    ),
    (
        "declared too large",
        {"query": f"auth_token={TOKEN}".encode(), "headers": ((b"content-length", b"5000"),)},
        _error(413, f"body of 5000 bytes exceeds the limit of {LIMIT}"),
        "too_large",
    ),
    (
        "chunked too large",
        {"query": f"auth_token={TOKEN}".encode(), "chunks": (b"x" * 3000, b"x" * 3000)},
        _error(413, f"body exceeds the limit of {LIMIT} bytes"),
        "too_large",
    ),
    (
        "empty body",
        {"query": f"auth_token={TOKEN}".encode()},
        _error(400, "malformed JSON: EOF while parsing a value at line 1 column 0"),
        "malformed_json",
    ),
]


def _invalid(runtime: Any, reason: str) -> float:
    return (
        runtime.metrics.registry.get_sample_value(
            "composer_obs_router_requests_invalid_total", {"reason": reason}
        )
        or 0.0
    )


def _latency_count(runtime: Any, source: str) -> float:
    return (
        runtime.metrics.registry.get_sample_value(
            "composer_obs_router_ingest_latency_seconds_count", {"source": source}
        )
        or 0.0
    )


def test_ingest_endpoints_answer_alike_from_the_fast_path_and_the_app(tmp_path: Path) -> None:
    """``FastIngest`` and the app's own routes answer each request with the same bytes, those
    Starlette's responses gave, and count it the same way."""
    config = tmp_path / "router.yaml"
    config.write_text(CONFIG)
    settings = load_router_settings(
        config_file=config,
        database_url=f"sqlite:///{tmp_path / 'router.db'}",
        ingest_token=TOKEN,
        ingest_username="monitoring",
        ingest_password="basic-password-0123",
        admin_token="admin-token-0123456789",
        max_body_bytes=LIMIT,
        access_log=False,
    )
    fast = create_asgi(settings)
    runtime = fast.app.state.runtime
    body = json.dumps(incident("lean-1", dag_id="dag_1")).encode()

    async def scenario() -> None:
        await runtime.start()
        try:
            for name, request, expected, reason in CASES:
                before = _invalid(runtime, reason)
                for app in (fast, fast.app):
                    answer, read = await _exchange(app, "POST", WEBHOOK, **request)
                    assert answer == expected, (name, app)
                    if name == "declared too large":
                        assert read == 0  # refused before reading the body
                assert _invalid(runtime, reason) == before + 2, name

            success = JSONResponse(
                {
                    "status": "accepted",
                    "incident_id": "lean-1",
                    "state": "open",
                    "fingerprint": incident_fingerprint("lean-1"),
                }
            )
            senders: list[dict[str, Any]] = [
                {"headers": ((b"authorization", f"Bearer {TOKEN}".encode()),)},
                {"headers": (_basic("monitoring", "basic-password-0123"),)},
                {"query": f"a=1&auth_token={TOKEN}".encode()},
            ]
            for sender in senders:
                for app in (fast, fast.app):
                    half = len(body) // 2
                    answer, _ = await _exchange(
                        app, "POST", WEBHOOK, chunks=(body[:half], body[half:]), **sender
                    )
                    assert answer == (200, success.raw_headers, bytes(success.body)), sender
            assert _latency_count(runtime, CLOUD_MONITORING) == 2 * len(senders)

            bearer = ((b"authorization", f"Bearer {TOKEN}".encode()),)
            alerts = json.dumps([{"labels": {"alertname": "lean"}}]).encode()
            empty = Response(status_code=200)
            for app in (fast, fast.app):
                answer, _ = await _exchange(
                    app, "POST", "/api/v2/alerts", headers=bearer, chunks=(alerts,)
                )
                assert answer == (200, empty.raw_headers, b"")
                invalid, _ = await _exchange(
                    app, "POST", "/api/v2/alerts", headers=bearer, chunks=(b'[{"labels": {}}]',)
                )
                assert invalid[0] == 422 and b"labels" in invalid[2]
                # Other methods on an ingest path are the app's: 405, in the JSON error shape.
                wrong, _ = await _exchange(app, "GET", WEBHOOK, headers=bearer)
                assert wrong == _error(405, "Method Not Allowed", {"allow": "POST"})
            assert _latency_count(runtime, ALERTMANAGER) == 2

            # The sender leaves mid-body: nothing accepted, nothing answered, nothing raised
            # (uvicorn would log the exception as a server error).
            for app in (fast, fast.app):
                assert await _sender_leaves_mid_body(app, body[:10]) == [], app
            assert _latency_count(runtime, CLOUD_MONITORING) == 2 * len(senders)

            # A journal that cannot take the request: 503 with Retry-After, no latency counted.
            assert runtime.journal is not None
            await asyncio.to_thread(runtime.journal.close)
            unavailable = _error(
                503, "the alert store is unavailable, retry later", {"Retry-After": "5"}
            )
            for app in (fast, fast.app):
                answer, _ = await _exchange(app, "POST", WEBHOOK, chunks=(body,), **senders[0])
                assert answer == unavailable
            assert _latency_count(runtime, CLOUD_MONITORING) == 2 * len(senders)
        finally:
            await runtime.stop()

    asyncio.run(scenario())
