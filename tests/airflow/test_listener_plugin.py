"""The listener plugin instruments a whole environment: events for a DAG that has no callbacks,
and no doubled events for a DAG that has them (both on real Airflow 2.10 and 3.x)."""

from __future__ import annotations

from typing import Any

import pytest

from observability.gcp import Endpoint
from tests.airflow.conftest import (
    NewAirflow,
    airflow_params,
    read_events,
)

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

PLUGIN = "from callbacks.plugin import ComposerObservabilityPlugin  # noqa: F401\n"


@pytest.fixture(scope="class", params=airflow_params())
def listened(
    request: pytest.FixtureRequest, emulator: Endpoint, new_airflow: NewAirflow
) -> dict[str, Any]:
    composer = new_airflow(request.param, "listener", emulator)
    plugins = composer.home / "plugins"
    plugins.mkdir()
    (plugins / "composer_observability_plugin.py").write_text(PLUGIN)
    airflow = composer.airflow
    airflow.env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(plugins)
    outputs = {
        dag_id: airflow.dags_test(dag_id).stdout
        for dag_id in ("obs_test_listener", "obs_test_listener_and_callbacks")
    }
    events = read_events(emulator, composer.project)
    return {"events": events, "outputs": outputs, "version": airflow.version}


def _sequence(events: list[dict[str, Any]], task_id: str) -> list[tuple[str, int]]:
    return [
        (event["event_type"], int(event["try_number"]))
        for event in events
        if event.get("task_id") == task_id
    ]


class TestListenerPlugin:
    def test_tasks_without_callbacks_are_reported(self, listened: dict[str, Any]) -> None:
        events = listened["events"]
        assert _sequence(events, "plain") == [("task_started", 1), ("task_succeeded", 1)]
        assert _sequence(events, "flaky") == [
            ("task_started", 1),
            ("task_up_for_retry", 1),
            ("task_started", 2),
            ("task_succeeded", 2),
        ]
        assert _sequence(events, "broken")[-1] == ("task_failed", 2)

    def test_failures_carry_the_error(self, listened: dict[str, Any]) -> None:
        [failed] = [e for e in listened["events"] if e["event_type"] == "task_failed"]
        assert failed["exception"]["type"] == "ValueError"
        assert failed["exception"]["message"] == "always fails"
        assert failed["owner"] == "platform"

    def test_callbacks_and_listener_together_never_double(self, listened: dict[str, Any]) -> None:
        assert _sequence(listened["events"], "instrumented") == [
            ("task_started", 1),
            ("task_succeeded", 1),
        ]
