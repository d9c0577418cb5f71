"""Real Airflow runs against the emulator, one per supported Airflow line, shared by a module
or class; each Airflow line's metadata database is migrated once per worker (``new_airflow``)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from examples.airflow_runner import EXAMPLE_DAGS, Airflow, airflow_venvs, venv_version
from examples.payments_service import PaymentsService
from observability.gcp import Endpoint
from tests.support.cloud_logging import LOG_NAME, read_events

__all__ = ["LOG_NAME", "read_events"]

TEST_DAGS = Path(__file__).resolve().parents[1] / "dags"


def dags_folder(target: Path) -> Path:
    """The example DAGs and the test DAGs side by side, as one DAG folder."""
    target.mkdir(parents=True, exist_ok=True)
    for source in (*EXAMPLE_DAGS.glob("*.py"), *TEST_DAGS.glob("*.py")):
        shutil.copy(source, target / source.name)
    return target


@dataclass
class AirflowRun:
    """What one Airflow version did with the example DAGs."""

    airflow: Airflow
    project: str
    events: list[dict[str, Any]]
    outputs: dict[str, str]
    service_requests: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)

    def of(
        self, dag_id: str, task_id: str | None = None, event_type: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            event
            for event in self.events
            if event.get("dag_id") == dag_id
            and (task_id is None or event.get("task_id") == task_id)
            and (event_type is None or event["event_type"] == event_type)
        ]


def airflow_params() -> list[Any]:
    venvs = airflow_venvs()
    if not venvs:
        return [pytest.param(None, marks=pytest.mark.skip(reason="run `make airflow-envs` first"))]
    return [pytest.param(venv, id=f"airflow-{venv_version(venv)}") for venv in venvs]


@pytest.fixture(scope="session")
def payments_service() -> Iterator[PaymentsService]:
    with PaymentsService() as service:
        yield service


@dataclass
class ComposerAirflow:
    """An Airflow home set up as a Composer worker whose events go to ``project``."""

    airflow: Airflow
    project: str

    @property
    def home(self) -> Path:
        return self.airflow.home


NewAirflow = Callable[[Path, str, Endpoint], ComposerAirflow]

# Airflow's default metadata database, relative to AIRFLOW_HOME (no test sets another).
SQLITE_DB = "airflow.db"


@pytest.fixture(scope="session")
def new_airflow(tmp_path_factory: pytest.TempPathFactory) -> NewAirflow:
    """``new_airflow(venv, name, endpoint)``: an Airflow home named after ``name`` and the
    version, with the example and test DAGs and a metadata database of its own, its events
    going to a new project at ``endpoint`` (add to ``.airflow.env`` before running).
    ``airflow db migrate`` runs once per Airflow version and session (per xdist worker); each
    home gets a copy of that SQLite file, which holds nothing tied to the home it was made in."""
    migrated: dict[Path, Path] = {}

    def make(venv: Path, name: str, endpoint: Endpoint) -> ComposerAirflow:
        version = venv_version(venv)
        if venv not in migrated:
            template = tmp_path_factory.mktemp(f"migrated-{version}")
            Airflow(venv=venv, home=template, dags_folder=template, env={}).migrate()
            migrated[venv] = template / SQLITE_DB
        home = tmp_path_factory.mktemp(f"{name}-{version}")
        shutil.copyfile(migrated[venv], home / SQLITE_DB)
        project = unique_project(version)
        env = composer_env(endpoint, project, home / "spool")
        airflow = Airflow(venv=venv, home=home, dags_folder=dags_folder(home / "dags"), env=env)
        return ComposerAirflow(airflow, project)

    return make


def composer_env(endpoint: Endpoint, project: str, spool: Path) -> dict[str, str]:
    """What a Composer worker has, pointed at the emulator."""
    assert endpoint.grpc_target is not None
    return {
        "COMPOSER_OBS_EMULATOR": endpoint.grpc_target,
        "GCP_PROJECT": project,
        "COMPOSER_LOCATION": "europe-west1",
        "COMPOSER_ENVIRONMENT": "obs-test",
        "COMPOSER_OBS_SPOOL_DIR": str(spool),
    }


def unique_project(version: str) -> str:
    return f"af{version.replace('.', '')}-{uuid.uuid4().hex[:8]}"
