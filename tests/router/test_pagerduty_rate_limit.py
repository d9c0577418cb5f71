"""PagerDuty's rate limit loses no page: a notice with more alerts than the limit lets through
gets every event accepted exactly once, across retries and a ``kill -9`` mid-notice.

A real router process (SQLite, and PostgreSQL where installed) sends to a PagerDuty stand-in
that throttles as PagerDuty does: past its events per window it answers 429 and processes
nothing. Before events were recorded as they were accepted, each retry started again from
the first event, so the window was always spent on the same events and the last ones never
went out.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from examples.waiting import wait_for
from observability.router.alert import Alert
from observability.router.notice import Notice
from observability.router.receivers.base import DeliveryError, FailureReason
from observability.router.receivers.pagerduty import PagerDuty, PagerDutyConfig
from observability.router.templates import Templates
from observability.standins import PagerDutyStandIn
from tests.router.harness import INGEST_TOKEN, RouterProcess
from tests.support.postgres import postgres_bin_dir, postgres_server

ALERTS = 30
PER_WINDOW = 10
WINDOW = 2.0


def config(url: str) -> str:
    """Every alert in one group, so one notice carries all of them. ``max_backoff`` is above
    the window: the stand-in's ``Retry-After`` (the rest of its window) is waited in full."""
    return f"""
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1h
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: {PagerDutyStandIn.routing_key}
        url: {url}
delivery:
  timeout: 2s
  initial_backoff: 200ms
  max_backoff: 5s
  lease: 5s
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    with postgres_server() as url:
        yield url


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyStandIn]:
    service = PagerDutyStandIn(name="pagerduty", rate_limit=(PER_WINDOW, WINDOW))
    service.start()
    yield service
    service.stop()


@pytest.mark.integration
def test_every_event_of_a_throttled_notice_arrives_once_across_a_kill(
    tmp_path: Path, pagerduty: PagerDutyStandIn, database_url: str | None
) -> None:
    router = RouterProcess(tmp_path / "router", config(pagerduty.url), database_url=database_url)
    try:
        router.start()
        alerts: list[dict[str, Any]] = [
            {"labels": {"alertname": "StormOfFailures", "dag_id": f"dag_{index}"}}
            for index in range(ALERTS)
        ]
        answer = router.ingest.post(
            "/api/v2/alerts", json=alerts, params={"auth_token": INGEST_TOKEN}
        )
        assert answer.status_code == 200, answer.text
        # The first window's events are accepted, the next is throttled; once the retry is
        # scheduled (after the 10 were recorded), the router dies.
        wait_for(lambda: "will be retried (attempt 1)" in router.log(), message="a 429")
        router.kill9()
        assert len(pagerduty.bodies()) == PER_WINDOW
        router.start()
        wait_for(lambda: len(dedup_keys(pagerduty)) == ALERTS, timeout=60, message="every event")
        wait_for(lambda: _delivered(router), message="the notice's delivery record")
    finally:
        router.close()
    events = Counter(body["dedup_key"] for body in pagerduty.bodies())
    assert len(events) == ALERTS and set(events.values()) == {1}, events
    assert all(body["event_action"] == "trigger" for body in pagerduty.bodies())
    # Retry-After was honoured: each exhausted window saw exactly one throttled event.
    assert pagerduty.throttled == ALERTS // PER_WINDOW - 1
    assert "Traceback" not in router.log()


def dedup_keys(pagerduty: PagerDutyStandIn) -> set[str]:
    return {body["dedup_key"] for body in pagerduty.bodies()}


def _delivered(router: RouterProcess) -> bool:
    """Whether the router's metrics count the notice as delivered."""
    metrics = router.ingest.get("/metrics").text
    return any(
        line.startswith("composer_obs_router_notifications_total")
        and 'outcome="delivered"' in line
        and not line.endswith(" 0.0")
        for line in metrics.splitlines()
    )


def notice_about(*incident_ids: str) -> Notice:
    now = 1_700_000_000.0
    alerts = [
        Alert(
            f"cm{index:016x}",
            {"alertname": "Failed", "incident_id": incident_id},
            {},
            now,
            None,
            now,
        )
        for index, incident_id in enumerate(incident_ids)
    ]
    return Notice(
        id="notice",
        receiver="pager",
        group_key="{}",
        group_labels={},
        alerts=[alert.to_api(now) for alert in alerts],
        external_url="",
        created_at=now,
    )


def test_an_event_refused_for_good_does_not_keep_the_others_from_being_sent() -> None:
    """The first event is refused (400): the others are still sent, then the notice fails
    with that refusal. An incident id longer than PagerDuty's 255-character ``dedup_key``
    limit is sent hashed, so it is not refused."""
    service = PagerDutyStandIn(name="pagerduty")
    service.start()
    config = PagerDutyConfig(routing_key=SecretStr(PagerDutyStandIn.routing_key), url=service.url)
    integration = PagerDuty("pager", 0, config, Templates(), None, Path("."))
    service.fail_next(400)

    async def send() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            await integration.send(notice_about("first", "second", "x" * 300), client)

    try:
        with pytest.raises(DeliveryError) as refused:
            asyncio.run(send())
    finally:
        service.stop()
    assert refused.value.reason == FailureReason.CLIENT and not refused.value.retryable
    keys = [body["dedup_key"] for body in service.bodies()]
    assert len(keys) == 2 and keys[0] == "second" and len(keys[1]) == 64, keys
