"""The failure modes of issue 12, played on a running Airflow, and what they produced.

``play`` triggers one run of every DAG of ``dags/obs_failure_modes.py`` at once, does to the
runs what an operator or the kernel would (``kill -9``, killing the supervisor too, marking a
task or a run failed through the REST API), waits for the runs to end, proves that the
scheduler still schedules (a healthy run after all of it), and returns the events that reached
Cloud Logging. ``summarize`` turns them into the rows of the README's "What each failure
produces" table.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from examples.waiting import wait_for
from observability.emit.spool import Spool
from observability.gcp import Endpoint
from tests.support.airflow_cluster import AirflowCluster, kill
from tests.support.cloud_logging import read_events

DAGS = Path(__file__).parent / "dags"
PLUGINS = Path(__file__).parent / "plugins"
NO_SLOT_POOL = "obs_no_slot"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mode:
    """One row of the table: the DAG (``<family>_<dag>``) and, when the DAG holds several
    modes, the task whose events are this mode's."""

    name: str
    dag: str
    task_id: str | None = None
    outside_the_task: bool = False
    """Needs something outside the task to notice (the watchdog's job): no event expected."""


MODES = (
    Mode("exception", "exception"),
    Mode("self_sigkill", "self_sigkill"),
    Mode("kill9", "kill9"),
    Mode("heartbeat", "heartbeat"),
    Mode("execution_timeout", "execution_timeout"),
    Mode("sensor_poke_timeout", "sensors", "poke"),
    Mode("sensor_reschedule_timeout", "sensors", "reschedule"),
    Mode("sensor_poke_soft_fail", "sensors", "poke_soft"),
    Mode("sensor_reschedule_soft_fail", "sensors", "reschedule_soft"),
    Mode("upstream_failed", "upstream_failed"),
    Mode("dagrun_timeout", "dagrun_timeout"),
    Mode("marked_task_failed", "marked_task_failed"),
    Mode("marked_run_failed", "marked_run_failed"),
    Mode("import_error", "import_error", outside_the_task=True),
    Mode("no_pool_slot", "no_pool_slot", outside_the_task=True),
    Mode("runs_long", "runs_long", outside_the_task=True),
)
DAG_MODES = sorted({mode.dag for mode in MODES if mode.dag != "import_error"} - {"healthy"})
STAY_RUNNING = {"no_pool_slot", "runs_long"}
"""Runs that never end while the test looks: it checks only that nothing was reported."""


WITHOUT_SCHEDULER = PLUGINS / "composer_obs_without_scheduler.py"
"""Our listener in every process, but not in the scheduler's own for the ``ns`` family's DAGs
(the Composer 3 case; the file says why that is faithful and where it is not)."""


@dataclass(frozen=True)
class Setup:
    """How the environment is instrumented, and which DAG families it runs."""

    name: str
    families: tuple[str, ...]
    plugin_files: tuple[Path, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    shared: bool = False
    """Played on the Airflow the watchdog's tests share (tests/conftest.py, ``shared_airflow``:
    callbacks, no plugin, the ``cb`` family), not on one of its own."""


SETUPS = (
    Setup("callbacks", families=("cb",), shared=True),
    Setup(
        "plugin",
        families=("pl", "ns"),
        plugin_files=(WITHOUT_SCHEDULER,),
        env={"OBS_WITHOUT_SCHEDULER_DAG_PREFIX": "ns_", "OBS_TEST_HARNESS_PID": str(os.getpid())},
    ),
)
COLUMNS = {
    "callbacks": ("callbacks", "cb"),
    "plugin in all components": ("plugin", "pl"),
    "plugin without the scheduler": ("plugin", "ns"),
}
"""Table column -> (setup, family) it is observed in. The two plugin columns share one
environment: the listener's hooks are per DAG, and nothing of one family's runs reaches the
other's events (each family's DAGs, runs and events are its own)."""


@dataclass
class Played:
    """What one environment did with the failure modes."""

    setup: Setup
    cluster: AirflowCluster
    runs: dict[str, str]
    events: list[dict[str, Any]] = field(default_factory=list)
    left_in_spool: int = 0
    """Events still waiting in the spool at the end (issue 12, point 2: must be none)."""
    healthy_state: str | None = None
    seconds: float = 0.0

    def of(self, dag_id: str, task_id: str | None = None) -> list[dict[str, Any]]:
        return [
            event
            for event in self.events
            if event.get("dag_id") == dag_id
            and (task_id is None or event.get("task_id") == task_id)
        ]


WORKING = "obs-failure-modes: working"
"""What a ``work`` task prints once its own code runs (dags/obs_failure_modes.py)."""


@dataclass(frozen=True)
class Where:
    """One environment's Airflow and the project its events go to."""

    cluster: AirflowCluster
    endpoint: Endpoint
    project: str

    def started(self, dag_id: str, run_id: str, task_id: str) -> bool:
        return any(
            event["event_type"] == "task_started"
            and (event.get("dag_id"), event.get("run_id"), event.get("task_id"))
            == (dag_id, run_id, task_id)
            for event in read_events(self.endpoint, self.project)
        )


def _working(where: Where, dag_id: str, run_id: str, task_id: str = "work") -> None:
    """Wait until the task's own code runs and its ``task_started`` is in Cloud Logging:
    Airflow shows it ``running`` while the task process still starts, and what is done to it
    then is a different failure; a task killed before its writer delivered (seconds on a busy
    machine) loses its start, which a task that has run for a while has told."""

    def check() -> bool:
        return WORKING in where.cluster.task_log(dag_id, run_id, task_id) and where.started(
            dag_id, run_id, task_id
        )

    wait_for(check, 240, 1.0, f"{dag_id}/{run_id}/{task_id} to run its code")


def _running_pid(where: Where, dag_id: str, run_id: str, task_id: str = "work") -> int:
    _working(where, dag_id, run_id, task_id)
    return where.cluster.api.task_pid(dag_id, run_id, task_id)


def _act(where: Where, family: str, runs: dict[str, str]) -> None:
    """What happens to the runs from outside: the kernel, an operator, the API."""
    api = where.cluster.api
    dag = f"{family}_kill9"
    kill(_running_pid(where, dag, runs[dag], "work"))
    dag = f"{family}_heartbeat"
    pid = _running_pid(where, dag, runs[dag], "work")
    kill(where.cluster.supervisor_pid(pid))
    kill(pid)
    dag = f"{family}_marked_task_failed"
    _working(where, dag, runs[dag])
    api.mark_task_failed(dag, runs[dag], "work")
    dag = f"{family}_marked_run_failed"
    _working(where, dag, runs[dag])
    api.mark_run_failed(dag, runs[dag])


def _settled_events(endpoint: Endpoint, project: str, quiet_s: float, timeout: float) -> list:
    """The project's events once no new one has arrived for ``quiet_s`` seconds."""
    deadline = time.monotonic() + timeout
    events = read_events(endpoint, project)
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(2)
        latest = read_events(endpoint, project)
        if len(latest) != len(events):
            events, quiet_since = latest, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            break
    return events


def _spool_drained(spool: Spool, timeout: float) -> int:
    """Wait until nothing waits in the spool (the replayers the task processes left deliver
    it, issue 12 point 2: nobody runs a command); returns the events still waiting then."""

    def drained() -> bool:
        return spool.pending_entries() == 0

    with contextlib.suppress(AssertionError):
        wait_for(drained, timeout, 2.0, f"{spool.directory} to be empty")
    return spool.pending_entries()


def play(cluster: AirflowCluster, setup: Setup, endpoint: Endpoint, project: str) -> Played:
    """Run every failure mode of ``setup.families`` side by side in the running cluster."""
    started = time.monotonic()
    dag_ids = [f"{family}_{dag}" for family in setup.families for dag in DAG_MODES]
    cluster.wait_for_dags([*dag_ids, *(f"{family}_healthy" for family in setup.families)])
    cluster.api.create_pool(NO_SLOT_POOL, 0)
    runs = {dag_id: cluster.api.trigger(dag_id) for dag_id in dag_ids}
    played = Played(setup, cluster, runs)

    def progress(step: str) -> None:
        log.info(
            "%s %s: %s after %.0f s", cluster.version, setup.name, step, time.monotonic() - started
        )

    progress("triggered")
    for family in setup.families:
        _act(Where(cluster, endpoint, project), family, runs)
    progress("acted")
    for dag_id, run_id in runs.items():
        if dag_id.split("_", 1)[1] not in STAY_RUNNING:
            cluster.api.wait_for_run(dag_id, run_id, timeout=300)
    progress("runs ended")
    healthy = f"{setup.families[0]}_healthy"
    played.healthy_state = cluster.api.wait_for_run(
        healthy, cluster.api.trigger(healthy), timeout=120
    )
    progress("healthy run ended")
    played.left_in_spool = _spool_drained(Spool(cluster.home / "spool"), timeout=120)
    # Only this set-up's DAGs: the shared Airflow's project also has the watchdog tests'.
    ours = (*(f"{family}_" for family in setup.families), "obs_import_error")
    played.events = [
        event
        for event in _settled_events(endpoint, project, quiet_s=10, timeout=90)
        if str(event.get("dag_id")).startswith(ours)
    ]
    progress("events settled")
    played.seconds = time.monotonic() - started
    return played


def _describe(event: dict[str, Any]) -> str:
    details = []
    if event.get("reason"):
        details.append(f"reason: {event['reason']}")
    if event.get("exception"):
        details.append(f"exception: {event['exception']['type']}")
    if event["event_type"] == "dag_run_failed":
        details.append(f"failed: {', '.join(event.get('failed_task_ids') or []) or 'none'}")
    return f"{event['event_type']} ({'; '.join(details)})" if details else event["event_type"]


def summarize(events: Iterable[dict[str, Any]]) -> list[str]:
    """Each distinct event description once, in order of first appearance, with its count."""
    counts = Counter(_describe(event) for event in events)
    return [f"{text} x{count}" if count > 1 else text for text, count in counts.items()]


def observations(played: dict[str, Played]) -> dict[str, dict[str, list[str]]]:
    """column -> mode -> the summary of the events that mode produced."""
    table: dict[str, dict[str, list[str]]] = {}
    for column, (setup, family) in COLUMNS.items():
        if setup not in played:
            continue
        one = played[setup]
        table[column] = {
            mode.name: summarize(one.of(f"{family}_{mode.dag}", mode.task_id))
            if mode.dag != "import_error"
            else summarize(one.of("obs_import_error"))
            for mode in MODES
        }
    return table
