"""No alert or group can stop the dispatch of the others, and a dispatcher that keeps failing
is reported by ``/readyz``.

Stored values no ingest path accepts (a label that is a number or a list, a time that is
text, as a hand-edited or older database may hold) are read as well-typed values, so they
break neither a dispatch pass (they used to, once an inhibit rule or a regex compared them)
nor the API. The isolation itself is tested with a fault injected into one alert's routing
and one group's flush, as a bug would raise there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from observability.router import dispatcher
from observability.router.alert import Alert
from observability.router.app import create_app
from observability.router.dispatcher import FAILED_GROUP_RETRY, Muting
from observability.router.history import incident_history
from observability.router.settings import load_router_settings
from observability.router.store import alerts, groups
from tests.router.pipeline import Pipeline, incident_ids

CONFIG = """
route:
  receiver: slack
  group_by: [alertname, dag_id]
  group_wait: 30s
  group_interval: 5m
  routes:
    - matchers: ['dag_id=~"dag_.*"']
      receiver: slack
receivers:
  - name: slack
    slack_configs:
      - api_url: http://127.0.0.1:1/hook
"""


@pytest.fixture
def pipeline_config() -> str:
    return CONFIG


def corrupt(pipeline: Pipeline, incident_id: str) -> None:
    """Store values no ingest would: a number and a list as labels, text as ``ends_at``."""
    with pipeline.store.write() as connection:
        row = connection.execute(select(alerts).where(alerts.c.incident_id == incident_id)).one()
        connection.execute(
            alerts.update()
            .where(alerts.c.fingerprint == row.fingerprint)
            .values(labels={**row.labels, "dag_id": 7, "team": ["a", None]})
        )
        connection.execute(
            text("UPDATE alerts SET ends_at = 'soon' WHERE fingerprint = :f"),
            {"f": row.fingerprint},
        )


def refuse(incident_id: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real(..., alert, now)``, raising when ``alert`` is the incident's (as a bug would)."""

    def wrapped(*args: Any) -> Any:
        alert = next(arg for arg in args if isinstance(arg, Alert))
        if alert.incident_id == incident_id:
            raise TypeError(f"injected failure for {incident_id}")
        return real(*args)

    return wrapped


def failures(pipeline: Pipeline, stage: str) -> float:
    value = pipeline.dispatcher.metrics.registry.get_sample_value(
        "composer_obs_router_dispatch_failures_total", {"stage": stage}
    )
    return value or 0.0


def history(pipeline: Pipeline, incident_id: str) -> dict:
    with pipeline.store.read() as connection:
        found = incident_history(connection, incident_id)
    assert found is not None
    return found


def test_an_alert_that_cannot_be_routed_is_set_aside_and_the_others_are_routed(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.incident("bad", dag_id="dag_bad")
    pipeline.incident("good", dag_id="dag_good")
    with pipeline.store.write() as connection:  # as if stored unrouted by another replica
        connection.execute(alerts.update().values(pending=True))
        connection.execute(groups.delete())
    monkeypatch.setattr(dispatcher, "_memberships", refuse("bad", dispatcher._memberships))
    notices = pipeline.tick(31)
    assert [incident_ids(n) for n in notices] == [{"good"}]
    assert failures(pipeline, "route") == 1
    [failure] = history(pipeline, "bad")["dispatchFailures"]
    assert failure["stage"] == "route" and "TypeError" in failure["error"]
    assert history(pipeline, "good")["dispatchFailures"] == []
    with pipeline.store.read() as connection:  # not claimed again at every pass
        assert connection.execute(select(alerts.c.pending)).scalars().all() == [False, False]


def test_a_group_that_fails_to_flush_is_set_aside_and_the_others_are_flushed(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.incident("bad", dag_id="dag_bad")
    pipeline.incident("good", dag_id="dag_good")
    pipeline.tick(0)  # routed into their groups
    monkeypatch.setattr(Muting, "muted", refuse("bad", Muting.muted))
    notices = pipeline.tick(31)
    assert [incident_ids(n) for n in notices] == [{"good"}]
    assert failures(pipeline, "flush") == 1
    [failure] = history(pipeline, "bad")["dispatchFailures"]
    assert failure["stage"] == "flush" and "dag_bad" in failure["groupKey"]
    # Retried after FAILED_GROUP_RETRY, not at every pass; still failing, still counted once
    # per attempt in the same history entry.
    assert pipeline.tick(1) == [] and failures(pipeline, "flush") == 1
    pipeline.tick(FAILED_GROUP_RETRY)
    assert failures(pipeline, "flush") == 2
    [failure] = history(pipeline, "bad")["dispatchFailures"]
    assert failure["attempts"] == 2


INHIBITING = """
route:
  receiver: slack
  group_by: [alertname, dag_id]
  group_wait: 30s
receivers:
  - name: slack
    slack_configs:
      - api_url: http://127.0.0.1:1/hook
inhibit_rules:
  - source_matchers: ['dag_id=~"upstream_.*"']
    target_matchers: ['team=~"x.*"']
    equal: [dag_id]
"""


def test_stored_values_of_the_wrong_type_are_read_as_text_by_dispatch_and_api(
    tmp_path: Path,
) -> None:
    """A number and a list as labels and text as ``ends_at`` (no ingest stores these: see
    test_ingest_properties) once stopped every flush when an inhibit rule compared them, and
    made the reads of alerts, groups and the incident answer 500."""
    pipeline = Pipeline(tmp_path, INHIBITING)
    config = tmp_path / "router.yaml"
    config.write_text(INHIBITING)
    settings = load_router_settings(  # a router reading the pipeline's database
        config_file=config,
        database_url=pipeline.store.url,
        allow_unauthenticated=True,
    )
    app = create_app(settings)

    async def read(paths: list[str]) -> list[httpx.Response]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://r"
        ) as client:
            return [await client.get(path) for path in paths]

    try:
        pipeline.incident("bad", dag_id="dag_bad")
        pipeline.incident("good", dag_id="dag_good")
        corrupt(pipeline, "bad")
        notices = pipeline.tick(31)
        answers = asyncio.run(
            read(["/api/v2/alerts", "/api/v2/alerts/groups", "/api/v1/incidents/bad"])
        )
    finally:
        app.state.runtime.store.dispose()
        pipeline.close()
    assert sorted(incident_ids(n).pop() for n in notices) == ["bad", "good"]
    [bad] = [n for n in notices if incident_ids(n) == {"bad"}]
    assert bad.alerts[0]["labels"]["dag_id"] == "7"
    assert bad.alerts[0]["labels"]["team"] == '["a", null]'
    assert failures(pipeline, "flush") == failures(pipeline, "route") == 0
    assert [answer.status_code for answer in answers] == [200, 200, 200], answers[0].text
    shown = {a["labels"]["incident_id"]: a for a in answers[0].json()}
    assert shown["bad"]["labels"]["dag_id"] == "7" and shown["bad"]["endsAt"]
    assert answers[2].json()["alert"]["labels"]["dag_id"] == "7"


def test_readyz_reports_a_dispatcher_whose_passes_keep_failing(tmp_path: Path) -> None:
    config = tmp_path / "router.yaml"
    config.write_text(CONFIG)
    settings = load_router_settings(
        config_file=config,
        database_url=f"sqlite:///{tmp_path / 'router.db'}",
        allow_unauthenticated=True,
        poll_interval=0.05,
    )
    app = create_app(settings)
    runtime = app.state.runtime

    async def run() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        await runtime.start()
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
                healthy = await client.get("/readyz")
                with runtime.store.write() as connection:  # every pass now fails
                    connection.execute(text("ALTER TABLE alert_groups RENAME TO broken"))
                failing = healthy
                for _ in range(100):
                    await asyncio.sleep(0.1)
                    failing = await client.get("/readyz")
                    if failing.status_code == 503:
                        break
                with runtime.store.write() as connection:
                    connection.execute(text("ALTER TABLE broken RENAME TO alert_groups"))
                recovered = failing
                for _ in range(100):
                    await asyncio.sleep(0.1)
                    recovered = await client.get("/readyz")
                    if recovered.status_code == 200:
                        break
                return healthy, failing, recovered
        finally:
            await runtime.stop()

    healthy, failing, recovered = asyncio.run(run())
    assert healthy.status_code == 200
    assert failing.status_code == 503, failing.text
    assert "dispatcher has failed" in failing.json()["error"]
    assert "alert_groups" in failing.json()["error"]
    assert recovered.status_code == 200, recovered.text
    metric = runtime.metrics.registry.get_sample_value(
        "composer_obs_router_dispatch_failures_total", {"stage": "pass"}
    )
    assert metric is not None and metric >= 5
