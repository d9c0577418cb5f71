"""Shared fixtures: a real emulator process for the whole session, unique projects per test,
and a PostgreSQL cluster with migrated Airflow databases for real-scheduler tests
(tests/support/airflow_cluster.py)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from observability.emit.handoff import ENV_LIFETIME
from observability.emulator.process import emulator_process
from observability.gcp import Endpoint
from tests.airflow.conftest import airflow_params

if TYPE_CHECKING:
    from tests.support.airflow_cluster import SharedAirflow

# A process that ends with events in the spool leaves a replayer behind for up to five minutes
# (observability.emit.handoff). The many tests that point writers at dead or hanging endpoints
# must not leave such processes running: the tests of the replayer, and the Airflow processes
# (which do not inherit COMPOSER_ variables), set it themselves.
os.environ.setdefault(ENV_LIFETIME, "0")

# Tests that each run for minutes (real schedulers, the demo): started first, so the two xdist
# workers do not end with one of them still running a long test alone.
LONGEST_FIRST = (
    ("tests/scheduler/", "tests/watchdog/test_under_scheduler.py"),
    ("tests/airflow/test_demo.py",),
)
"""Groups of paths, longest first. A group's tests are also ordered by Airflow line, so the
tests that share one cluster per line (``shared_airflow``) run together and the cluster is
started once per line, not again each time the line changes."""


_AIRFLOW_LINE = re.compile(r"\[airflow-[^\]]+\]")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """``-n 2`` alone distributes with ``--dist worksteal``: each worker starts on its half of
    the tests in order (the longest first) and one that runs out takes pending tests from the
    other, so both finish together. (``load`` would hand the first few hundred tests, every
    long one among them, to one worker.)"""
    if getattr(config.option, "numprocesses", None) and config.option.dist == "no":
        config.option.dist = "worksteal"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first (``LONGEST_FIRST``), each file's tests kept in their order."""

    def rank(item: pytest.Item) -> tuple[int, str]:
        path = item.nodeid.split("::", 1)[0]
        group = next(
            (n for n, prefixes in enumerate(LONGEST_FIRST) if path.startswith(prefixes)),
            len(LONGEST_FIRST),
        )
        line = _AIRFLOW_LINE.search(item.nodeid) if group < len(LONGEST_FIRST) else None
        return group, line.group(0) if line else ""

    items.sort(key=rank)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """One emulator process shared by the session; tests isolate themselves by project."""
    with emulator_process(tmp_path_factory.mktemp("emulator")) as endpoint:
        yield endpoint


@pytest.fixture
def project() -> str:
    """A project id of this test's own, so its entries never mix with another test's."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def emulator_env(
    emulator: Endpoint, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment that points the callbacks at the emulator, with a spool of the test's own."""
    assert emulator.grpc_target and emulator.http_url
    env = {
        "COMPOSER_OBS_EMULATOR": emulator.grpc_target,
        "COMPOSER_OBS_EMULATOR_HTTP": emulator.http_url.removeprefix("http://"),
        "COMPOSER_OBS_PROJECT": project,
        "COMPOSER_OBS_SPOOL_DIR": str(tmp_path / "spool"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL 15 cluster for the session (skips when its binaries are absent)."""
    from tests.support.postgres import postgres_bin_dir, postgres_server

    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL's server binaries are not installed (apt-get install postgresql)")
    with postgres_server(user="airflow", max_connections=400) as url:
        yield url


@pytest.fixture(scope="session")
def airflow_database(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Path, str], str]:
    """``airflow_database(venv, name)``: the URL of a new database with the schema of the
    venv's Airflow, copied from one migrated once per Airflow version and session."""
    from examples.airflow_runner import venv_version
    from tests.support.airflow_cluster import create_database, migrated_database

    templates: dict[str, str] = {}

    def make(venv: Path, name: str) -> str:
        version = venv_version(venv)
        template = f"template_{version.replace('.', '_')}"
        if version not in templates:
            work = tmp_path_factory.mktemp(f"migrate-{version}")
            templates[version] = migrated_database(postgres_url, venv, template, work)
        return create_database(postgres_url, name, template=template)

    return make


@pytest.fixture(scope="session", params=airflow_params())
def shared_airflow(
    request: pytest.FixtureRequest,
    emulator: Endpoint,
    airflow_database: Callable[[Path, str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SharedAirflow]:
    """One real-scheduler Airflow per Airflow line with our callbacks (no plugin), shared by
    the failure-mode tests (tests/scheduler, the ``cb`` DAGs) and the watchdog's
    (tests/watchdog/test_under_scheduler.py, the ``wd_`` DAGs): a cluster started once instead
    of twice. Launched without waiting, so that a test can start its other clusters meanwhile."""
    from examples.airflow_runner import venv_version
    from tests.airflow.conftest import composer_env, unique_project
    from tests.support.airflow_cluster import AirflowCluster, SharedAirflow

    venv: Path = request.param
    version = venv_version(venv)
    home = tmp_path_factory.mktemp(f"shared-{version}")
    project = unique_project(version)
    env = composer_env(emulator, project, home / "spool")
    env["OBS_FAILURE_MODE_FAMILIES"] = "cb"  # tests/scheduler/dags: the callbacks' family only
    # Unique: under xdist each worker that runs one of these tests starts its own cluster.
    database = airflow_database(venv, f"shared_{version.replace('.', '_')}_{uuid.uuid4().hex[:8]}")
    with AirflowCluster.launched(venv, home, database, env) as cluster:
        yield SharedAirflow(cluster, project)
