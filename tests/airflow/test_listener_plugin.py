"""The listener plugin instruments a whole environment: events for a DAG that has no callbacks,
and no doubled events for a DAG that has them (both on real Airflow 2.10 and 3.x)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from examples.airflow_runner import venv_version
from observability.gcp import Endpoint
from tests.airflow.conftest import (
    NewAirflow,
    airflow_params,
    composer_env,
    read_events,
    unique_project,
)

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

PLUGIN = "from callbacks.plugin import ComposerObservabilityPlugin  # noqa: F401\n"


@pytest.fixture(scope="class", params=airflow_params())
def listened(
    request: pytest.FixtureRequest,
    emulator: Endpoint,
    tmp_path_factory: pytest.TempPathFactory,
    new_airflow: NewAirflow,
) -> dict[str, Any]:
    venv: Path = request.param
    version = venv_version(venv)
    home = tmp_path_factory.mktemp(f"listener-{version}")
    plugins = home / "plugins"
    plugins.mkdir()
    (plugins / "composer_observability_plugin.py").write_text(PLUGIN)
    project = unique_project(version)
    env = composer_env(emulator, project, home / "spool")
    env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(plugins)
    airflow = new_airflow(venv, home, env)
    outputs = {
        dag_id: airflow.dags_test(dag_id).stdout
        for dag_id in ("obs_test_listener", "obs_test_listener_and_callbacks")
    }
    return {"events": read_events(emulator, project), "outputs": outputs, "version": version}


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
