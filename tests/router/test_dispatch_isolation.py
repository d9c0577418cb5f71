"""No alert or group can stop the dispatch of the others, and a dispatcher that keeps failing
is reported by ``/readyz``.

The failures are provoked with stored values no ingest path accepts (a label that is a number,
as a hand-edited or older database may hold): regex matchers then raise on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from observability.router.app import create_app
from observability.router.dispatcher import FAILED_GROUP_RETRY
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
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    world = Pipeline(tmp_path, CONFIG)
    yield world
    world.close()


def corrupt_labels(pipeline: Pipeline, incident_id: str) -> None:
    """Make the incident's ``dag_id`` label a number (JSON), as no ingest would store it."""
    with pipeline.store.write() as connection:
        row = connection.execute(select(alerts).where(alerts.c.incident_id == incident_id)).one()
        connection.execute(
            alerts.update()
            .where(alerts.c.fingerprint == row.fingerprint)
            .values(labels={**row.labels, "dag_id": 7})
        )


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
    pipeline: Pipeline,
) -> None:
    pipeline.incident("bad", dag_id="dag_bad")
    pipeline.incident("good", dag_id="dag_good")
    with pipeline.store.write() as connection:  # as if stored unrouted by another replica
        connection.execute(alerts.update().values(pending=True))
        connection.execute(groups.delete())
    corrupt_labels(pipeline, "bad")
    notices = pipeline.tick(31)
    assert [incident_ids(n) for n in notices] == [{"good"}]
    assert failures(pipeline, "route") == 1
    [failure] = history(pipeline, "bad")["dispatchFailures"]
    assert failure["stage"] == "route" and "TypeError" in failure["error"]
    assert history(pipeline, "good")["dispatchFailures"] == []
    with pipeline.store.read() as connection:  # not claimed again at every pass
        assert connection.execute(select(alerts.c.pending)).scalars().all() == [False, False]


def test_a_group_that_fails_to_flush_is_set_aside_and_the_others_are_flushed(
    pipeline: Pipeline,
) -> None:
    pipeline.incident("bad", dag_id="dag_bad")
    pipeline.incident("good", dag_id="dag_good")
    pipeline.tick(0)  # routed into their groups
    corrupt_labels(pipeline, "bad")
    pipeline.silence_regex("dag_id", "nothing.*", 3600)  # its matcher raises on a number
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
