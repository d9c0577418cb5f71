"""Grouping timers, dedup, inhibition, silences and time intervals, on a manual clock."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.router.pipeline import SLACK_TOLD_RESOLVED, Pipeline, incident_ids

CONFIG = (
    """
route:
  receiver: slack
  group_by: [alertname, team]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['team="night"']
      receiver: slack
      mute_time_intervals: [daytime]
inhibit_rules:
  - source_matchers: ['alertname="ComposerEnvironmentUnhealthy"']
    target_matchers: ['alertname="Airflow task failed"']
    equal: [environment_name]
time_intervals:
  - name: daytime
    time_intervals:
      - times: [{start_time: "08:00", end_time: "20:00"}]
"""
    + SLACK_TOLD_RESOLVED
)


@pytest.fixture
def pipeline_config() -> str:
    return CONFIG


def test_storm_of_1000_incidents_over_60s_gives_one_notice_per_group_per_interval(
    pipeline: Pipeline,
) -> None:
    teams = ["data", "ml", "finance", "growth"]
    for second in range(60):  # 1,000 incidents across 200 DAGs in 60 s
        for index in range(second * 1000 // 60, (second + 1) * 1000 // 60):
            dag = index % 200
            pipeline.incident(f"i{index}", dag_id=f"dag_{dag}", team=teams[dag % 4])
        pipeline.tick(1)
    first_wave = [n for n in pipeline.notices]
    # group_wait: each team's group told once, 30 s after its first incident.
    assert Counter(n.group_labels["team"] for n in first_wave) == dict.fromkeys(teams, 1)
    second_wave = pipeline.tick(5 * 60)
    assert Counter(n.group_labels["team"] for n in second_wave) == dict.fromkeys(teams, 1)
    told = set().union(*(incident_ids(n) for n in pipeline.notices))
    assert told == {f"i{index}" for index in range(1000)}
    assert pipeline.tick(5 * 60) == []  # nothing changed: nothing said
    assert len(pipeline.tick(4 * 3600)) == 4  # repeat_interval passed: reminded once


def test_group_wait_collects_and_resolved_within_it_sends_nothing(pipeline: Pipeline) -> None:
    pipeline.incident("a", team="data", dag_id="x")
    pipeline.tick(10)
    pipeline.incident("a", state="closed", team="data", dag_id="x")
    assert pipeline.tick(30) == []
    assert pipeline.tick(600) == []


def test_duplicates_and_reopen_after_close_change_nothing(pipeline: Pipeline) -> None:
    assert pipeline.incident("a", team="data") == "stored"
    assert pipeline.incident("a", team="data") == "duplicate"
    [notice] = pipeline.tick(31)
    assert notice.status == "firing"
    assert pipeline.incident("a", state="closed", team="data") == "stored"
    assert pipeline.incident("a", state="closed", team="data") == "duplicate"
    [resolved] = pipeline.tick(300)
    assert resolved.status == "resolved" and incident_ids(resolved, "resolved") == {"a"}
    assert resolved.alerts[0]["labels"]["state"] == "closed"
    assert pipeline.incident("a", state="acknowledged", team="data") == "stale"
    assert pipeline.tick(3600) == []


def test_new_alert_in_a_flushed_group_waits_for_group_interval(pipeline: Pipeline) -> None:
    pipeline.incident("a", team="data")
    assert len(pipeline.tick(31)) == 1
    pipeline.incident("b", team="data")
    assert pipeline.tick(60) == []
    [notice] = pipeline.tick(240)
    assert incident_ids(notice) == {"a", "b"}


def test_inhibition_mutes_targets_with_equal_labels_only(pipeline: Pipeline) -> None:
    pipeline.incident(
        "env", team="platform", environment_name="prod", policy="ComposerEnvironmentUnhealthy"
    )
    pipeline.incident("prod-task", team="data", environment_name="prod")
    pipeline.incident("staging-task", team="data", environment_name="staging")
    notices = pipeline.tick(31)
    told = set().union(*(incident_ids(n) for n in notices))
    assert told == {"env", "staging-task"}
    pipeline.incident(
        "env",
        state="closed",
        team="platform",
        environment_name="prod",
        policy="ComposerEnvironmentUnhealthy",
    )
    later = pipeline.tick(300)
    assert "prod-task" in set().union(*(incident_ids(n, "firing") for n in later))


def test_silence_mutes_matching_alerts_until_it_ends(pipeline: Pipeline) -> None:
    pipeline.silence("dag_id", "nightly", seconds=600)
    pipeline.incident("quiet", team="data", dag_id="nightly")
    pipeline.incident("loud", team="ml", dag_id="hourly")
    notices = pipeline.tick(31)
    assert set().union(*(incident_ids(n) for n in notices)) == {"loud"}
    assert pipeline.tick(300) == []
    [notice] = pipeline.tick(300)  # silence over: now it is news
    assert incident_ids(notice) == {"quiet"}


def test_mute_time_interval_holds_notices_until_it_ends(pipeline: Pipeline) -> None:
    day = pipeline.clock.now() - pipeline.clock.now() % 86400
    pipeline.clock.advance(day + 12 * 3600 - pipeline.clock.now())  # noon UTC
    pipeline.incident("n", team="night")
    assert pipeline.tick(31) == []
    notices = pipeline.tick(9 * 3600)  # 21:00, outside daytime
    assert [incident_ids(n) for n in notices] == [{"n"}]


def test_alertmanager_alerts_expire_after_resolve_timeout(pipeline: Pipeline) -> None:
    pipeline.alert(labels={"alertname": "Lag", "team": "data"})
    [firing] = pipeline.tick(31)
    assert firing.status == "firing"
    pipeline.tick(100)
    pipeline.alert(labels={"alertname": "Lag", "team": "data"})  # re-sent: still firing
    assert pipeline.tick(200) == []
    [resolved] = pipeline.tick(400)  # not re-sent for resolve_timeout (5m): resolved
    assert resolved.status == "resolved"


def test_config_change_moves_groups_to_their_new_route(pipeline: Pipeline, tmp_path: Path) -> None:
    from observability.router.config import parse_config

    pipeline.incident("a", team="data")
    pipeline.tick(31)
    pipeline.config = parse_config(
        CONFIG.replace("group_by: [alertname, team]", "group_by: [alertname]"), "t", tmp_path
    )
    pipeline.dispatcher.reroute_all()
    notices = pipeline.tick(301)
    assert [n.group_labels for n in notices] == [{"alertname": "Airflow task failed"}]
