"""The demo's Airflow: a small, real Airflow 3 in a folder of its own, as a team runs one.

An API server, a scheduler and a DAG processor, each a process of its own, with the
LocalExecutor on SQLite: what ``airflow standalone`` runs (Airflow 3 accepts SQLite with the
LocalExecutor; it dropped the SequentialExecutor). No triggerer: no demo task defers. The REST
API uses Airflow's simple auth manager with two users from a password file: ``demo`` (admin:
the demo triggers runs as a user would) and ``watchdog`` (viewer: the watchdog only reads).

Starting takes two phases, so that the demo can do other work meanwhile: ``airflow db
migrate`` begins at once, in the background; the components start once the emulator's
address is known (the callbacks inside Airflow need it). Every process is started in a process
group of its own, and ``stop`` ends them and everything they started (task processes run in
groups of their own), also on errors and Ctrl-C.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from examples.airflow_runner import EXAMPLE_DAGS, Airflow
from examples.process_groups import stop_process_groups
from examples.waiting import wait_for
from observability.emulator.process import free_port

DEMO_DAGS = Path(__file__).parent / "dags"
"""The demo's own DAG files, deployed beside the example DAGs."""
BROKEN_DEPLOY = Path(__file__).parent / "broken_deploy"
"""Next versions of DAG files that no longer import, deployed while Airflow runs."""
COMPONENTS = ("api-server", "scheduler", "dag-processor")
ADMIN_USER, WATCHDOG_USER = "demo", "watchdog"
MIGRATE_TIMEOUT = 240.0
"""``airflow db migrate`` on SQLite takes 15 to 40 s on a loaded 2-core machine."""
REQUEST_TIMEOUT = 60.0
"""Seconds for one REST call: on a loaded 2-core machine the API server once took 37 s."""
STOP_TIMEOUT = 15.0
"""Seconds between SIGTERM (Airflow's graceful stop) and SIGKILL."""


class AirflowREST:
    """Airflow 3's REST API (``/api/v2``) as one user, with a token from ``/auth/token``."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url
        self._login = {"username": username, "password": password}
        self._http = httpx.Client(base_url=f"{url}/api/v2", timeout=REQUEST_TIMEOUT)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; a read is tried again when the API server is slow to answer (a loaded
        machine), a change never is."""
        if "Authorization" not in self._http.headers:
            answer = self._http.post(f"{self.url}/auth/token", json=self._login)
            answer.raise_for_status()
            self._http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        attempts = 3 if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            try:
                answer = self._http.request(method, path, **kwargs)
                break
            except httpx.TransportError as exc:
                if attempt == attempts:
                    raise RuntimeError(
                        f"Airflow's API server did not answer {method} {path}: {exc!r}"
                    ) from None
        answer.raise_for_status()
        return answer.json()

    def dag_ids(self) -> set[str]:
        return {dag["dag_id"] for dag in self._call("GET", "/dags", params={"limit": 100})["dags"]}

    def trigger(self, dag_id: str) -> str:
        """A manual run now, as the UI's trigger button makes it; returns its run id."""
        run_id = f"manual__demo_{uuid.uuid4().hex[:8]}"
        body = {"dag_run_id": run_id, "logical_date": None}
        self._call("POST", f"/dags/{dag_id}/dagRuns", json=body)
        return run_id

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def import_errors(self) -> dict[str, str]:
        """File name (relative to the DAG folder) -> the stack trace Airflow recorded."""
        found = self._call("GET", "/importErrors", params={"limit": 100})["import_errors"]
        return {Path(error["filename"]).name: error["stack_trace"] for error in found}


@dataclass
class DemoAirflow:
    """One Airflow being started or running; ``stop`` may be called any number of times."""

    airflow: Airflow
    port: int
    migration: subprocess.Popen[bytes]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _api: AirflowREST | None = None

    @property
    def home(self) -> Path:
        return self.airflow.home

    @property
    def version(self) -> str:
        return self.airflow.version

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def watchdog_password_file(self) -> Path:
        """The watchdog's password alone, as its ``password_file`` wants it."""
        return self.home / "watchdog-password"

    def log_path(self, name: str) -> Path:
        """Where a component's own output goes (task logs are under ``logs/dag_id=...``)."""
        return _log_path(self.home, name)

    @property
    def api(self) -> AirflowREST:
        """The REST API as the ``demo`` admin."""
        if self._api is None:
            passwords = json.loads(_passwords_file(self.home).read_text())
            self._api = AirflowREST(self.url, ADMIN_USER, passwords[ADMIN_USER])
        return self._api

    def start(self, env: dict[str, str]) -> None:
        """Once the migration is done, start every component with ``env`` added (where the
        callbacks write their events)."""
        try:
            code = self.migration.wait(timeout=MIGRATE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise TimeoutError(
                f"airflow db migrate did not finish in {MIGRATE_TIMEOUT:.0f} s "
                f"(its log: {self.log_path('db-migrate')})"
            ) from None
        if code != 0:
            tail = self.log_path("db-migrate").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"airflow db migrate failed ({code}):\n{tail}")
        self.airflow.env.update(env)
        for component in COMPONENTS:
            self.processes[component] = self.airflow.start(component, log=self.log_path(component))

    def _raise_if_exited(self) -> None:
        for name, process in self.processes.items():
            if (code := process.poll()) is not None:
                tail = self.log_path(name).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"airflow {name} exited with {code}:\n{tail}")

    def _healthy(self) -> bool:
        self._raise_if_exited()
        try:
            health = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        wanted = ("metadatabase", "scheduler", "dag_processor")
        return all((health.get(name) or {}).get("status") == "healthy" for name in wanted)

    def wait_until_ready(self, dag_ids: Iterable[str], timeout: float) -> None:
        """Until every component reports healthy and the DAG processor has stored the DAGs."""
        wait_for(self._healthy, timeout, 1.0, f"Airflow {self.version} to be healthy")
        wanted = set(dag_ids)

        def parsed() -> bool:
            self._raise_if_exited()
            return wanted <= self.api.dag_ids()

        wait_for(parsed, timeout, 1.0, f"Airflow to parse {sorted(wanted)}")

    def deploy(self, source: Path) -> Path:
        """Replace a DAG file the way a deploy does (a new file renamed over the old one)."""
        target = self.airflow.dags_folder / source.name
        partial = target.with_suffix(".deploying")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        return target

    def wait_for_runs(self, runs: dict[str, str], timeout: float) -> Iterator[tuple[str, str]]:
        """Until every run (DAG id -> run id) has ended: each DAG id with its run's final
        state, as it ends."""
        deadline = time.monotonic() + timeout
        waiting = dict(runs)
        while waiting:
            self._raise_if_exited()
            for dag_id, run_id in list(waiting.items()):
                state = self.api.run_state(dag_id, run_id)
                if state in ("success", "failed"):
                    del waiting[dag_id]
                    yield dag_id, state
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(
                    f"timed out after {timeout:.0f} s waiting for the runs of {sorted(waiting)}"
                )
            if waiting:
                time.sleep(2.0)

    def wait_for_import_error(self, file_name: str, timeout: float) -> str:
        """Until Airflow records an import error for the file; returns its stack trace."""

        def recorded() -> str | None:
            self._raise_if_exited()
            return self.api.import_errors().get(file_name)

        return wait_for(
            recorded, timeout, 1.0, f"Airflow to record the import error of {file_name}"
        )

    def stop(self) -> None:
        """SIGTERM every process group (Airflow's graceful stop), then SIGKILL whatever of
        them, of their sessions and of their descendants is still alive; returns when none is
        left."""
        if self._api is not None:
            self._api.close()
            self._api = None
        stop_process_groups([self.migration, *self.processes.values()], STOP_TIMEOUT)


def _log_path(home: Path, name: str) -> Path:
    return home / "component-logs" / f"{name}.log"


def _passwords_file(home: Path) -> Path:
    return home / "simple_auth_manager_passwords.json"


def _config(home: Path, port: int) -> dict[str, str]:
    """Airflow's configuration, as environment variables: small, local, quick to react."""
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": "",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin,{WATCHDOG_USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(_passwords_file(home)),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        # A loaded machine: a task's calls to the API server may take more than the 5 s default.
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        # New DAG files are listed within seconds (default: 300 s), and a changed one is parsed
        # at once (`file_parsing_sort_mode = modified_time`); an unchanged one is parsed again
        # only after a minute, which spares the machine a process per file every few seconds.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "60",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "300",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
    }


@contextmanager
def demo_airflow(venv: Path, home: Path) -> Iterator[DemoAirflow]:
    """Lay out ``home`` (DAG folder, users), begin ``airflow db migrate`` in the background
    and yield at once; stop every process on exit."""
    home = home.resolve()
    dags = home / "dags"
    dags.mkdir(parents=True)
    for source in [*sorted(EXAMPLE_DAGS.glob("*.py")), *sorted(DEMO_DAGS.glob("*.py"))]:
        shutil.copyfile(source, dags / source.name)
    passwords = {ADMIN_USER: secrets.token_urlsafe(16), WATCHDOG_USER: secrets.token_urlsafe(16)}
    _passwords_file(home).write_text(json.dumps(passwords) + "\n")
    (home / "watchdog-password").write_text(passwords[WATCHDOG_USER] + "\n")
    port = free_port()
    airflow = Airflow(venv=venv, home=home, dags_folder=dags, env=_config(home, port))
    migration = airflow.start("db", "migrate", log=_log_path(home, "db-migrate"))
    running = DemoAirflow(airflow, port, migration)
    try:
        yield running
    finally:
        running.stop()
