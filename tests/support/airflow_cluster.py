"""Real Airflow under a real scheduler, for tests: PostgreSQL, LocalExecutor, every component.

``airflow dags test`` runs a DAG in one process; users run a scheduler, a DAG processor, an
API server (and on Airflow 3 a triggerer), each a process of its own, with task processes the
executor starts. Code of ours that runs inside those processes (listener hooks, callbacks in
the DAG processor) is only really tested there. This module starts that, in a temporary home:

    with postgres_server(user="airflow") as server:   # tests: the postgres_url fixture
        url = migrated_database(server, venv, "af3", tmp)  # tests: airflow_database(venv, name)
        with AirflowCluster.running(venv, home, url, env, dags=[dag_file], plugin=True) as af:
            af.wait_for_dags(["my_dag"])
            run_id = af.api.trigger("my_dag")
            af.api.wait_for_task("my_dag", run_id, "work", {"running"})
            kill(af.api.task_pid("my_dag", run_id, "work"))     # kill -9 from outside
            af.api.mark_task_failed("other_dag", other_run, "work")
            af.api.wait_for_run("my_dag", run_id, {"failed"})
            assert af.exited() == {}  # no component died
            events = read_events(endpoint, project)  # tests/support/cloud_logging.py

Airflow 3 (api-server, scheduler, dag-processor, triggerer) and Airflow 2.10 (webserver,
scheduler, whose DAG processor is its child) are started from the venvs ``make airflow-envs``
builds. The heartbeat threshold is lowered (``task_instance_heartbeat_timeout`` /
``scheduler_zombie_task_threshold``) and the DAG folder parsed every few seconds, so a test
sees a lost task within about a minute. The REST API is open: Airflow 3's simple auth manager
with every user an admin, Airflow 2.10's basic-auth backend with an ``admin`` user.

Each component starts in a session of its own; stopping the cluster kills every process of
those sessions, every descendant of a component and every process carrying the cluster's marker
variable, also when a test fails. The marker alone is not enough: Airflow's ``setproctitle``
overwrites the memory ``/proc/PID/environ`` reads, so a LocalExecutor worker and the task
processes it forks no longer show it, and task processes run in process groups of their own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from examples.airflow_runner import Airflow, venv_version
from examples.process_groups import stop_process_groups
from examples.waiting import wait_for
from observability.emulator.process import free_port

PLUGIN_FILE = "from callbacks.plugin import ComposerObservabilityPlugin  # noqa: F401\n"
"""What a user puts in the environment's ``plugins/`` folder to install the listener."""

HEARTBEAT_TIMEOUT_S = 60
"""Seconds without a heartbeat before the scheduler fails a task (Airflow's default: 300)."""

DAG_FILE_PROCESSOR_TIMEOUT_S = 300
"""Seconds before Airflow kills a DAG file processor (its default: 50). On the loaded 2-core
test machine, a processor running a DAG's failure callback was seen stalled 30 s and killed
at 50 s, losing the callback's event with the process: that is Airflow killing the process
running our code (a SIGKILL nothing survives), not the failure a test plays."""

ADMIN = ("admin", "admin")
"""Airflow 2.10's REST user (basic auth)."""

MARKER = "COMPOSER_OBS_TEST_CLUSTER"
"""Environment variable every process of one cluster carries: how ``stop`` finds them all."""

FINISHED_RUN_STATES = frozenset({"success", "failed"})
FINISHED_TASK_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """A new database on the server of ``server_url`` (empty, or a copy of ``template``); its
    SQLAlchemy URL for Airflow."""
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"{copy}')
    base = server_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://", 1)
    return f"{base}/{name}"


def migrated_database(server_url: str, venv: Path, name: str, work: Path) -> str:
    """A database with Airflow's schema (``airflow db migrate``) and, on Airflow 2.10, the REST
    user. Migrating takes half a minute; copies of this one (``create_database(...,
    template=name)``) take a second."""
    url = create_database(server_url, name)
    work.mkdir(parents=True, exist_ok=True)
    airflow = Airflow(venv.resolve(), work, work, {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url})
    airflow.migrate()
    if major_version(venv) < 3:
        user, password = ADMIN
        result = airflow.run(
            *("users", "create", "--username", user, "--password", password),
            *("--role", "Admin", "--email", "admin@example.com"),
            *("--firstname", "Ad", "--lastname", "Min"),
        )
        if result.returncode != 0:
            raise RuntimeError(f"airflow users create failed:\n{result.stderr[-3000:]}")
    return url


def major_version(venv: Path) -> int:
    return int(venv_version(venv).split(".")[0])


def _config(major: int, database_url: str, api_port: int, plugins: Path) -> dict[str, str]:
    """Airflow's configuration, as environment variables, for a small fast test cluster."""
    common = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "48",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "16",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins),
        "AIRFLOW__CORE__FERNET_KEY": "",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }
    if major >= 3:
        return {
            **common,
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            # A busy machine: a task's calls to the API server may take more than the 5 s default.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": str(DAG_FILE_PROCESSOR_TIMEOUT_S),
        }
    return {
        **common,
        "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(api_port),
        "AIRFLOW__WEBSERVER__WORKERS": "1",
        "AIRFLOW__WEBSERVER__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.basic_auth",
        "AIRFLOW__SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD": str(HEARTBEAT_TIMEOUT_S),
        "AIRFLOW__SCHEDULER__ZOMBIE_DETECTION_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "10",
        "AIRFLOW__CORE__DAG_FILE_PROCESSOR_TIMEOUT": str(DAG_FILE_PROCESSOR_TIMEOUT_S),
    }


def components(major: int) -> tuple[str, ...]:
    """The long-running processes of one environment, in start order."""
    if major >= 3:
        return ("api-server", "scheduler", "dag-processor", "triggerer")
    return ("webserver", "scheduler")


class AirflowAPI:
    """The stable REST API of one Airflow (``/api/v2`` on 3.x, ``/api/v1`` on 2.10)."""

    def __init__(self, base_url: str, major: int) -> None:
        self.major = major
        prefix = "/api/v2" if major >= 3 else "/api/v1"
        auth = None if major >= 3 else httpx.BasicAuth(*ADMIN)
        self.http = httpx.Client(base_url=f"{base_url}{prefix}", auth=auth, timeout=60)

    def close(self) -> None:
        self.http.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; a GET is retried while the server is unreachable, slow or failing (a busy
        API server on a loaded machine answers 500 when its database pool runs dry), a change
        is never repeated."""
        for attempt in range(5 if method == "GET" else 1):
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError:
                if attempt == 4 or method != "GET":
                    raise
            else:
                if response.status_code < 500 or attempt == 4 or method != "GET":
                    break
            time.sleep(2)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def dag_ids(self) -> set[str]:
        dags = self._json("GET", "/dags", params={"limit": 1000})["dags"]
        return {dag["dag_id"] for dag in dags}

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Start a manual run now; returns its run id."""
        run_id = f"manual__{uuid.uuid4().hex[:12]}"
        body: dict[str, Any] = {"dag_run_id": run_id, "conf": conf or {}}
        if self.major >= 3:
            body["logical_date"] = None
        path = f"/dags/{dag_id}/dagRuns"
        for attempt in range(3):
            try:
                response = self.http.post(path, json=body)
            except httpx.TimeoutException:
                response = None
            if response is not None and response.status_code < 500:
                if response.status_code == 409 and attempt:
                    return run_id  # an earlier attempt created it after all
                if response.status_code >= 400:
                    raise AssertionError(f"POST {path}: {response.status_code} {response.text}")
                return run_id
            # A busy API server may answer too late, or 500 (its database pool ran dry), and
            # still create the run: the run id is ours, so whether it exists says whether to
            # ask again.
            if self._exists(f"{path}/{run_id}"):
                return run_id
            time.sleep(2)
        raise AssertionError(f"{dag_id}/{run_id} was never created")

    def _exists(self, path: str) -> bool:
        try:
            return self.http.get(path).status_code == 200
        except httpx.TransportError:
            return False

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"))

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """task_id -> state, for every task of the run."""
        found = self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in found["task_instances"]}

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        states: Iterable[str] = FINISHED_RUN_STATES,
        timeout: float = 180.0,
    ) -> str:
        """Wait until the run is in one of ``states``; returns that state."""
        wanted = set(states)

        def check() -> str | None:
            state = self.dag_run(dag_id, run_id)["state"]
            return state if state in wanted else None

        return str(wait_for(check, timeout, 1.0, f"{dag_id}/{run_id} in {sorted(wanted)}"))

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: Iterable[str] = FINISHED_TASK_STATES,
        timeout: float = 180.0,
    ) -> dict[str, Any]:
        """Wait until the task instance is in one of ``states``; returns it."""
        wanted = set(states)

        def check() -> dict[str, Any] | None:
            ti = self.task_instance(dag_id, run_id, task_id)
            return ti if ti["state"] in wanted else None

        message = f"{dag_id}/{run_id}/{task_id} in {sorted(wanted)}"
        return dict(wait_for(check, timeout, 1.0, message))

    def mark_task_failed(self, dag_id: str, run_id: str, task_id: str) -> None:
        """What an operator does in the UI: set a (running) task instance to failed."""
        body: dict[str, Any] = {"new_state": "failed"}
        if self.major < 3:
            body["dry_run"] = False
        self._json("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}", json=body)

    def mark_run_failed(self, dag_id: str, run_id: str) -> None:
        self._json("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})

    def import_errors(self) -> list[dict[str, Any]]:
        """Airflow's import errors: ``filename`` and ``stack_trace`` each."""
        return list(self._json("GET", "/importErrors")["import_errors"])

    def create_pool(self, name: str, slots: int) -> None:
        self._json("POST", "/pools", json={"name": name, "slots": slots})

    def task_pid(self, dag_id: str, run_id: str, task_id: str) -> int:
        """The PID of the process running the task's code (Airflow records it at start)."""

        def check() -> int | None:
            pid = self.task_instance(dag_id, run_id, task_id).get("pid")
            return int(pid) if pid else None

        return int(wait_for(check, 60, 0.5, f"the pid of {dag_id}/{run_id}/{task_id}"))


def _has_marker(pid: int, marker: str) -> bool:
    """Whether the process's environment (as ``/proc`` still shows it) has ``MARKER=marker``."""
    needle = f"{MARKER}={marker}".encode()
    return needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


@dataclass
class AirflowCluster:
    """One running Airflow environment: its components, its REST API, its files."""

    airflow: Airflow
    major: int
    api: AirflowAPI
    base_url: str
    marker: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.airflow.home

    @property
    def version(self) -> str:
        return self.airflow.version

    @classmethod
    @contextmanager
    def running(
        cls, *args: Any, ready_timeout: float = 240.0, **kwargs: Any
    ) -> Iterator[AirflowCluster]:
        """``launched`` (same arguments), then wait until every component is healthy."""
        with cls.launched(*args, **kwargs) as cluster:
            cluster.wait_until_ready(ready_timeout)
            yield cluster

    @classmethod
    @contextmanager
    def launched(
        cls,
        venv: Path,
        home: Path,
        database_url: str,
        env: dict[str, str],
        dags: Iterable[Path] = (),
        plugin: bool = False,
        plugin_files: Iterable[Path] = (),
    ) -> Iterator[AirflowCluster]:
        """Start every component on a migrated database (``migrated_database``) without
        waiting for them (so that several clusters start side by side); stop everything on
        exit, also on errors.

        ``env`` is added to every process (e.g. the emulator's endpoint); ``dags`` are copied
        into the DAG folder; ``plugin`` puts ``ComposerObservabilityPlugin`` in ``plugins/``,
        so that every component loads it; ``plugin_files`` are copied there too (test plugins)."""
        venv, home = venv.resolve(), home.resolve()
        major = major_version(venv)
        port = free_port()
        plugins = home / "plugins"
        plugins.mkdir(parents=True, exist_ok=True)
        if plugin:
            (plugins / "composer_observability_plugin.py").write_text(PLUGIN_FILE)
        for source in plugin_files:
            (plugins / source.name).write_text(source.read_text())
        dags_folder = home / "dags"
        dags_folder.mkdir(exist_ok=True)
        marker = uuid.uuid4().hex
        config = _config(major, database_url, port, plugins)
        airflow = Airflow(venv, home, dags_folder, {**config, **env, MARKER: marker})
        base_url = f"http://127.0.0.1:{port}"
        cluster = cls(airflow, major, AirflowAPI(base_url, major), base_url, marker)
        cluster.add_dags(dags)
        try:
            for component in components(major):
                cluster._start(component)
            yield cluster
        finally:
            cluster.stop()

    def add_dags(self, dags: Iterable[Path]) -> None:
        """Copy DAG files into the DAG folder (the DAG processor finds them within seconds)."""
        for source in dags:
            (self.airflow.dags_folder / source.name).write_text(source.read_text())

    def _start(self, component: str) -> None:
        self.processes[component] = self.airflow.start(
            *component.split(), log=self.log_path(component)
        )

    def log_path(self, component: str) -> Path:
        """Where a component's own output goes (task logs are under ``logs/dag_id=...``)."""
        return self.home / "component-logs" / f"{component}.log"

    def component_log(self, component: str) -> str:
        return self.log_path(component).read_text(errors="replace")

    def _healthy(self) -> bool:
        self._raise_if_exited()
        wanted: tuple[str, ...]
        try:
            if self.major >= 3:
                health = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).json()
                wanted = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            else:
                health = httpx.get(f"{self.base_url}/health", timeout=5).json()
                wanted = ("metadatabase", "scheduler")
        except (httpx.HTTPError, ValueError):
            return False
        return all((health.get(name) or {}).get("status") == "healthy" for name in wanted)

    def _raise_if_exited(self) -> None:
        if exited := self.exited():
            name, code = next(iter(exited.items()))
            tail = self.component_log(name)[-4000:]
            raise RuntimeError(f"airflow {name} exited with {code}:\n{tail}")

    def wait_until_ready(self, timeout: float = 240.0) -> None:
        """Wait until the API answers and reports every component healthy."""
        wait_for(self._healthy, timeout, 1.0, f"Airflow {self.version} to be healthy")

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 120.0) -> None:
        """Wait until the DAG processor has parsed and stored these DAGs."""
        wanted = set(dag_ids)

        def parsed() -> bool:
            self._raise_if_exited()
            return wanted <= self.api.dag_ids()

        wait_for(parsed, timeout, 1.0, f"DAGs {sorted(wanted - self.api.dag_ids())}")

    def exited(self) -> dict[str, int]:
        """Components that are no longer running, with their exit codes (empty when healthy)."""
        return {
            name: code
            for name, process in self.processes.items()
            if (code := process.poll()) is not None
        }

    def supervisor_pid(self, task_pid: int) -> int:
        """The parent of a task process: Airflow 3's supervisor, Airflow 2's ``tasks run``."""
        stat = Path(f"/proc/{task_pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        path = folder / f"attempt={try_number}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM every component (Airflow's graceful stop), then SIGKILL whatever of this
        cluster is still alive, task processes included (those with the marker too); returns
        when none is left. Calling it again does nothing."""
        self.api.close()
        stop_process_groups(self.processes.values(), timeout, also=self._marked_processes)

    def _marked_processes(self) -> set[psutil.Process]:
        """Every live process with this cluster's marker in its environment, but ours."""
        found = set()
        for one in psutil.process_iter():
            with contextlib.suppress(psutil.Error, OSError):
                if one.pid != os.getpid() and _has_marker(one.pid, self.marker):
                    found.add(one)
        return found


def kill(pid: int, sig: signal.Signals = signal.SIGKILL) -> None:
    """Send ``sig`` (default: ``kill -9``) to a process, if it still exists."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


@dataclass(frozen=True)
class SharedAirflow:
    """An Airflow with our callbacks and no plugin, shared by the tests whose DAGs and
    findings do not mix (the ``shared_airflow`` fixture): each adds its own DAG files and reads
    only its own DAGs' events from ``project``, where every process of it writes."""

    cluster: AirflowCluster
    project: str
