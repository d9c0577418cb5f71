"""Times out of range are refused at ingest, and a database holding some anyway (written by an
older router) neither stops the dispatch nor breaks a read of the API.

A real router process over HTTP, on SQLite with one process and with ``--workers 2``, and on
a real PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from examples.waiting import wait_for
from observability.router.incident import WebhookPayload
from observability.router.store import Store, alerts, silences
from observability.router.timestamps import iso
from observability.standins import StandIn
from tests.router.harness import FAST_TIMERS, INGEST_TOKEN, RouterProcess, incident
from tests.support.postgres import postgres_bin_dir, postgres_server

pytestmark = pytest.mark.integration

CLOUD_MONITORING = "/v1/webhooks/cloud-monitoring"
ALERTS = "/api/v2/alerts"


def config(webhook: StandIn) -> str:
    return (
        f"""
route:
  receiver: hook
  group_by: [alertname, incident_id]
  group_wait: 200ms
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: {webhook.url}
"""
        + FAST_TIMERS
    )


@pytest.fixture(
    params=[("sqlite", 1), ("sqlite", 2), ("postgresql", 1)],
    ids=["sqlite", "sqlite-workers-2", "postgresql"],
)
def router(
    request: pytest.FixtureRequest, router_factory: Any, fakes: dict[str, StandIn]
) -> Iterator[RouterProcess]:
    dialect, workers = request.param
    if dialect == "sqlite":
        yield router_factory(config(fakes["webhook"]), workers=workers)
        return
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    with postgres_server() as url:
        yield router_factory(config(fakes["webhook"]), database_url=url)


def post(router: RouterProcess, path: str, body: bytes) -> Any:
    return router.ingest.post(
        path,
        content=body,
        params={"auth_token": INGEST_TOKEN},
        headers={"content-type": "application/json"},
    )


def incident_with(**times: str) -> bytes:
    """A webhook body whose incident has these raw JSON values (NaN is no JSON to dumps)."""
    body = json.dumps(incident(f"bad-{uuid.uuid4().hex[:6]}"))
    for name, raw in times.items():
        body = body.replace(f'"{name}": ', f'"{name}": {raw}, "_{name}": ', 1)
    return body.encode()


BAD_INCIDENTS = [
    ("started_at", "NaN"),
    ("started_at", "Infinity"),
    ("started_at", "1e308"),
    ("started_at", "-1e18"),
    ("ended_at", "1e20"),
]
BAD_ALERT_TIMES = [
    ("endsAt", "9999-12-31T23:59:59-14:00"),
    ("startsAt", "9999-12-31T23:59:59-14:00"),
    ("startsAt", "1969-12-31T23:59:59Z"),
]


def delivered_about(webhook: StandIn, needle: str) -> bool:
    return any(needle in json.dumps(body) for body in webhook.bodies())


def test_times_out_of_range_are_refused_and_stored_ones_break_nothing(
    router: RouterProcess, fakes: dict[str, StandIn]
) -> None:
    for field, raw in BAD_INCIDENTS:
        answer = post(router, CLOUD_MONITORING, incident_with(**{field: raw}))
        assert answer.status_code == 422, (field, raw, answer.text)
        assert f"incident.{field}" in answer.json()["error"], answer.text
    for field, value in BAD_ALERT_TIMES:
        body = json.dumps([{"labels": {"alertname": "Bad"}, field: value}]).encode()
        answer = post(router, ALERTS, body)
        assert answer.status_code == 422, (field, value, answer.text)
        assert field in answer.json()["error"], answer.text
    now = datetime.now(timezone.utc)
    silence = {
        "matchers": [{"name": "alertname", "value": "Nothing", "isRegex": False}],
        "startsAt": now.isoformat(),
        "endsAt": "9999-12-31T23:59:59-14:00",
        "createdBy": "test",
        "comment": "too long",
    }
    refused = router.admin.post("/api/v2/silences", json=silence)
    assert refused.status_code == 422 and "endsAt" in refused.json()["error"], refused.text
    # Prometheus's "not set" (Go's zero time) is not a time out of range.
    zero = [{"labels": {"alertname": "ZeroEnd"}, "endsAt": "0001-01-01T00:00:00Z"}]
    assert post(router, ALERTS, json.dumps(zero).encode()).status_code == 200
    good = f"good-{uuid.uuid4().hex[:6]}"
    assert router.post_incident(incident(good)).status_code == 200
    wait_for(lambda: delivered_about(fakes["webhook"], good), message="the good incident")
    firing = router.admin.get(ALERTS).json()
    assert any(a["labels"]["alertname"] == "ZeroEnd" for a in firing)
    stored_extremes_neither_stop_dispatch_nor_break_reads(router, fakes["webhook"], good)


def stored_extremes_neither_stop_dispatch_nor_break_reads(
    router: RouterProcess, webhook: StandIn, first: str
) -> None:
    """Rows as an older router stored them: the alerts are still notified (their times shown
    clamped to the range), and every read of the API answers."""
    store = Store(router.database_url)
    now = datetime.now(timezone.utc).timestamp()
    # (SQLite stores NaN as NULL: infinity stands for the non-finite values.)
    extreme = [(1e308, None), (-1e18, 1e20), (now, 253402350000.0), (float("inf"), None)]
    try:
        with store.write() as connection:
            connection.execute(
                alerts.update()
                .where(alerts.c.incident_id == first)
                .values(starts_at=1e308, ends_at=1e20)
            )
            for index, (starts_at, ends_at) in enumerate(extreme):
                connection.execute(
                    alerts.insert().values(
                        fingerprint=f"{index:016x}",
                        labels={"alertname": f"Extreme{index}", "incident_id": f"x{index}"},
                        annotations={},
                        starts_at=starts_at,
                        ends_at=ends_at,
                        updated_at=now,
                        generator_url="",
                        incident_id=None,
                        incident_state=None,
                        pending=True,
                    )
                )
            connection.execute(
                silences.insert().values(
                    id=str(uuid.uuid4()),
                    matchers=[
                        {"name": "alertname", "value": "Never", "is_regex": False, "is_equal": True}
                    ],
                    starts_at=now,
                    ends_at=1e300,
                    created_by="older router",
                    comment="year 10000",
                    updated_at=now,
                )
            )
    finally:
        store.dispose()
    later = f"later-{uuid.uuid4().hex[:6]}"
    assert router.post_incident(incident(later)).status_code == 200
    wait_for(lambda: delivered_about(webhook, later), message="a later incident")
    wait_for(lambda: delivered_about(webhook, "Extreme1"), message="a stored extreme")
    for path in (ALERTS, "/api/v2/alerts/groups", "/api/v2/silences", f"/api/v1/incidents/{first}"):
        answer = router.admin.get(path)
        assert answer.status_code == 200, (path, answer.text)
    shown = {a["labels"]["alertname"]: a for a in router.admin.get(ALERTS).json()}
    assert shown["Extreme0"]["startsAt"] == "2262-04-11T23:47:16.000Z"
    assert httpx.get(f"{router.url}/readyz").status_code == 200


def test_iso_of_any_float_is_a_time_within_the_bounds() -> None:
    for value in (float("nan"), float("inf"), -float("inf"), 1e308, -1e18, 0.0):
        text = iso(value)
        assert text is not None
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        assert datetime(1970, 1, 1, tzinfo=timezone.utc) <= moment
        assert moment <= datetime(2262, 4, 11, 23, 47, 16, tzinfo=timezone.utc)


@pytest.mark.parametrize("state", ["   ", "", "\t\n"])
def test_a_blank_state_is_refused_naming_the_field(state: str) -> None:
    """Issue 13, item 14: ``state: "   "`` was accepted as an empty state."""
    with pytest.raises(ValidationError) as refused:
        WebhookPayload.model_validate(incident("blank", state=state))
    assert [error["loc"] for error in refused.value.errors()] == [("incident", "state")]
