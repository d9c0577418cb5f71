"""The failure modes of issue 12 under a real scheduler (PostgreSQL, LocalExecutor, every
component), with our callbacks only and with the listener plugin in every component, on
Airflow 2.10 and 3.x: Airflow keeps scheduling, and each failure is reported once, saying what
happened."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

from examples.airflow_runner import venv_version
from observability.gcp import Endpoint
from tests.airflow.conftest import airflow_params, composer_env, unique_project
from tests.scheduler.failure_modes import DAGS, SETUPS, Played, observations, play
from tests.support.airflow_cluster import AirflowCluster

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.timeout(900)]

OBSERVED = Path(__file__).parent / "observed"
"""Where each run writes what it saw (``<version>.json``), for the README's table."""


@pytest.fixture(scope="module", params=airflow_params())
def played(
    request: pytest.FixtureRequest,
    emulator: Endpoint,
    airflow_database: Callable[[Path, str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Played]]:
    """Both set-ups of one Airflow version, started and played side by side."""
    venv: Path = request.param
    version = venv_version(venv)
    with ExitStack() as stack:
        clusters: dict[str, tuple[AirflowCluster, str]] = {}
        for setup in SETUPS:
            home = tmp_path_factory.mktemp(f"sched-{setup.name}-{version}")
            project = unique_project(version)
            env = composer_env(emulator, project, home / "spool")
            env["OBS_FAILURE_MODE_FAMILIES"] = ",".join(setup.families)
            database = airflow_database(venv, f"{setup.name}_{version.replace('.', '_')}")
            cluster = stack.enter_context(
                AirflowCluster.launched(
                    venv, home, database, env, dags=DAGS.glob("*.py"), plugin=setup.plugin
                )
            )
            clusters[setup.name] = (cluster, project)
        started = time.monotonic()
        for cluster, _ in clusters.values():
            cluster.wait_until_ready()
        ready_s = time.monotonic() - started
        with ThreadPoolExecutor(len(SETUPS)) as pool:
            futures = {
                setup.name: pool.submit(
                    play, clusters[setup.name][0], setup, emulator, clusters[setup.name][1]
                )
                for setup in SETUPS
            }
            results = {name: future.result() for name, future in futures.items()}
        OBSERVED.mkdir(exist_ok=True)
        (OBSERVED / f"{version}.json").write_text(
            json.dumps(
                {
                    "ready_s": ready_s,
                    "played_s": {n: r.seconds for n, r in results.items()},
                    "spooled": {n: r.spooled for n, r in results.items()},
                    "observations": observations(results),
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        yield results


def test_no_component_exits(played: dict[str, Played]) -> None:
    for one in played.values():
        assert one.cluster.exited() == {}
        assert "DetachedInstanceError" not in one.cluster.component_log("scheduler")


def test_every_other_run_is_still_scheduled(played: dict[str, Played]) -> None:
    for one in played.values():
        assert one.healthy_state == "success"


def test_no_event_is_duplicated(played: dict[str, Played]) -> None:
    for one in played.values():
        keys = Counter(
            (
                e["event_type"],
                e.get("dag_id"),
                e.get("task_id"),
                e.get("run_id"),
                e.get("try_number"),
            )
            for e in one.events
        )
        assert [key for key, count in keys.items() if count > 1] == []
