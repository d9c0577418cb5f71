"""Alert identity is namespaced by source: an Alertmanager alert never takes over a Cloud
Monitoring incident's alert, and incidents stored before the namespacing keep their story."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from observability.router.incident import incident_fingerprint, legacy_incident_fingerprint
from observability.router.migrations import migrate
from observability.router.store import alerts, group_alerts, incident_events
from tests.router.pipeline import SLACK_TOLD_RESOLVED, Pipeline, incident_ids

CONFIG = (
    """
route:
  receiver: slack
  group_by: [incident_id]
  group_wait: 0s
  group_interval: 1m
"""
    + SLACK_TOLD_RESOLVED
)


@pytest.fixture
def pipeline_config() -> str:
    return CONFIG


def stored(pipeline: Pipeline) -> dict[str, dict]:
    with pipeline.store.read() as connection:
        return {row.fingerprint: row._asdict() for row in connection.execute(select(alerts))}


def test_an_alertmanager_alert_labelled_like_an_incident_is_another_alert(
    pipeline: Pipeline,
) -> None:
    assert pipeline.incident("X", dag_id="etl") == "stored"
    pipeline.tick(1)
    forged = pipeline.alert(labels={"incident_id": "X"}, endsAt="2000-01-01T00:00:00Z")
    assert forged.fingerprint == legacy_incident_fingerprint("X")
    rows = stored(pipeline)
    assert set(rows) == {incident_fingerprint("X"), forged.fingerprint}
    incident_row = rows[incident_fingerprint("X")]
    assert incident_row["labels"]["dag_id"] == "etl"
    assert incident_row["ends_at"] is None and incident_row["incident_state"] == "open"
    pipeline.tick(61)
    resolved = [n for n in pipeline.notices if incident_ids(n, "resolved") == {"X"}]
    assert resolved == []


def test_incidents_stored_with_the_legacy_fingerprint_are_renamed_and_still_close(
    pipeline: Pipeline,
) -> None:
    pipeline.incident("old", dag_id="etl")
    assert len(pipeline.tick(1)) == 1
    legacy, new = legacy_incident_fingerprint("old"), incident_fingerprint("old")
    with pipeline.store.write() as connection:  # as a router before the namespacing stored it
        for table in (alerts, group_alerts, incident_events):
            connection.execute(
                update(table).where(table.c.fingerprint == new).values(fingerprint=legacy)
            )
    migrate(pipeline.store)
    migrate(pipeline.store)  # idempotent
    assert set(stored(pipeline)) == {new}
    pipeline.incident("old", state="closed", dag_id="etl")
    notices = pipeline.tick(61)
    assert [incident_ids(n, "resolved") for n in notices] == [{"old"}]
    assert len(stored(pipeline)) == 1
