"""The ingest hot path's shortcuts agree with the general code they stand in for."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import select

from observability.router.alert_store import IncidentEvent, Submission, write
from observability.router.auth import _query_token
from observability.router.clock import ManualClock
from observability.router.config import parse_config
from observability.router.dispatcher import Dispatcher
from observability.router.incident import WebhookPayload, incident_alert
from observability.router.metrics import RouterMetrics
from observability.router.server import CoalescingTransport
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
