"""The failure modes of issue 12 under a real scheduler (PostgreSQL, LocalExecutor, every
component), with our callbacks only and with the listener plugin in every component, on
Airflow 2.10 and 3.x: Airflow keeps scheduling, and each failure is reported once, saying what
happened."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil
import pytest

from callbacks import failures
from examples.airflow_runner import venv_version
from observability.gcp import Endpoint
from tests.airflow.conftest import composer_env, unique_project
from tests.scheduler.failure_modes import (
    COLUMNS,
    DAGS,
    MODES,
    SETUPS,
    Played,
    observations,
    play,
)
from tests.scheduler.failure_table import OBSERVED
from tests.support.airflow_cluster import AirflowCluster, SharedAirflow

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.timeout(900)]

OUTSIDE_THE_TASK = ("self_sigkill", "kill9", "heartbeat", "marked_task_failed", "marked_run_failed")
"""Modes where Airflow, not the task's code, ends the task."""
UPDATE = os.environ.get("COMPOSER_OBS_UPDATE_OBSERVED") == "1"
"""Record what this run saw as the new expectation (and the README table's source)."""


@pytest.fixture(scope="module")
def played(
    shared_airflow: SharedAirflow,
    emulator: Endpoint,
    airflow_database: Callable[[Path, str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Played]]:
    """Every set-up of one Airflow version, started and played side by side: the callbacks'
    on the Airflow shared with the watchdog's tests, the plugin's on one of its own."""
    venv = shared_airflow.cluster.airflow.venv
    version = venv_version(venv)
    with ExitStack() as stack:
        clusters: dict[str, tuple[AirflowCluster, str]] = {}
        for setup in SETUPS:
            if setup.shared:
                shared_airflow.cluster.add_dags(DAGS.glob("*.py"))
                clusters[setup.name] = (shared_airflow.cluster, shared_airflow.project)
                continue
            home = tmp_path_factory.mktemp(f"sched-{setup.name}-{version}")
            project = unique_project(version)
            env = composer_env(emulator, project, home / "spool")
            env["OBS_FAILURE_MODE_FAMILIES"] = ",".join(setup.families)
            database = airflow_database(venv, f"{setup.name}_{version.replace('.', '_')}")
            cluster = stack.enter_context(
                AirflowCluster.launched(
                    venv,
                    home,
                    database,
                    {**env, **setup.env},
                    dags=DAGS.glob("*.py"),
                    plugin_files=setup.plugin_files,
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
        timings = {"ready_s": round(ready_s), **{n: round(r.seconds) for n, r in results.items()}}
        left = {name: result.left_in_spool for name, result in results.items()}
        print(f"\nAirflow {version}: {timings}, left in the spool: {left}")
        yield results


def _events(played: dict[str, Played]) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """(column, mode, the mode's events) for every column and mode observed."""
    for column, (setup, family) in COLUMNS.items():
        one = played[setup]
        for mode in MODES:
            dag_id = "obs_import_error" if mode.dag == "import_error" else f"{family}_{mode.dag}"
            yield column, mode.name, one.of(dag_id, mode.task_id)


def _of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [event for event in events if event["event_type"] == event_type]


def _no_component_exits_and_our_hooks_never_fail(played: dict[str, Played]) -> None:
    """Issue 12's crash: with the plugin, the scheduler died at the first failed run."""
    for one in played.values():
        assert one.cluster.exited() == {}
        for component in one.cluster.processes:
            log = one.cluster.component_log(component)
            assert "DetachedInstanceError" not in log
            assert "composer-observability: listener" not in log


def _every_other_run_is_still_scheduled(played: dict[str, Played]) -> None:
    for one in played.values():
        assert one.healthy_state == "success"


def _no_event_is_duplicated(played: dict[str, Played]) -> None:
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


def _a_failure_ended_from_outside_says_how(played: dict[str, Played]) -> None:
    """A killed, heartbeat-lost or marked-failed task's event names the reason and carries a
    readable ``TaskKilled``, never Airflow 2.10's dict of ids (type ``str``)."""
    for column, mode, events in _events(played):
        for event in _of_type(events, "task_failed"):
            exception = event.get("exception") or {}
            assert exception.get("type") != "str", (column, mode, exception)
            if mode in OUTSIDE_THE_TASK:
                assert event.get("reason") in failures.FROM_OUTSIDE, (column, mode, event)
                assert exception["type"] == "callbacks.failures.TaskKilled"
                assert "{'DAG Id'" not in exception["message"]


def _limits_say_which_limit(played: dict[str, Played]) -> None:
    for column, mode, events in _events(played):
        for event in _of_type(events, "task_failed"):
            if mode == "execution_timeout":
                assert event.get("reason") == failures.TIMED_OUT, (column, event)
            if mode in ("sensor_poke_timeout", "sensor_reschedule_timeout"):
                # Or Airflow failed it from outside: under load, Airflow 3.3 may see a poke's
                # process end after it queued the next poke, and fails the sensor itself.
                reasons = (failures.SENSOR_TIMED_OUT, *failures.FROM_OUTSIDE)
                assert event.get("reason") in reasons, (column, event)
        for event in _of_type(events, "task_skipped"):
            assert event.get("reason", "").endswith("(soft_fail)"), (column, mode, event)


def _a_rescheduled_sensor_starts_once_per_try(played: dict[str, Played]) -> None:
    for column, mode, events in _events(played):
        if "reschedule" in mode:
            assert len(_of_type(events, "task_started")) <= 1, (column, mode)


def _a_failed_run_names_its_failed_tasks(played: dict[str, Played]) -> None:
    """Also the task a timed-out run stopped, and on every path (callback, listener)."""
    for column, mode, events in _events(played):
        for event in _of_type(events, "dag_run_failed"):
            assert event.get("failed_task_ids"), (column, mode, event)
            if mode == "dagrun_timeout":
                assert event["failed_task_ids"] == ["slow"], column


def _what_needs_an_outside_observer_reports_no_failure(played: dict[str, Played]) -> None:
    """An import error, a task that never gets a slot, a task running far too long: no code
    inside Airflow can see them (the watchdog reports them)."""
    outside = {mode.name for mode in MODES if mode.outside_the_task}
    for column, mode, events in _events(played):
        if mode in outside:
            assert {event["event_type"] for event in events} <= {"task_started"}, (column, mode)


def _task_events_link_their_log(played: dict[str, Played]) -> None:
    """``log_url`` is on task events also where the listener runs in the scheduler or the API
    server (computed from the hook's task instance and Airflow's ``base_url``, no query)."""
    unlinked = [
        (column, mode, event["event_type"], event.get("reason"))
        for column, mode, events in _events(played)
        for event in events
        if event["event_type"].startswith("task_") and not event.get("log_url")
    ]
    print(f"task events without log_url: {unlinked}")
    assert unlinked == []


def _nothing_is_left_in_a_spool(played: dict[str, Played]) -> None:
    """Issue 12, point 2: what a short task spooled arrives without anyone running a command."""
    assert {name: one.left_in_spool for name, one in played.items()} == dict.fromkeys(played, 0)


def _each_mode_produces_what_was_recorded(played: dict[str, Played]) -> None:
    """Each mode's events (type, count, reason, exception type, failed tasks) are exactly
    those of ``observed/<version>.json``, the README table's source: any change fails here
    with its diff. ``COMPOSER_OBS_UPDATE_OBSERVED=1`` records this run's instead (then render
    the table: ``python -m tests.scheduler.failure_table``)."""
    version = next(iter(played.values())).cluster.version
    seen = observations(played)
    assert set(seen) == set(COLUMNS)
    recorded = OBSERVED / f"{version}.json"
    if UPDATE:
        OBSERVED.mkdir(exist_ok=True)
        recorded.write_text(json.dumps(seen, indent=2, ensure_ascii=False) + "\n")
        return
    expected = json.loads(recorded.read_text())
    differences = [
        f"{column} / {mode}:\n  recorded: {expected.get(column, {}).get(mode)}\n  now:      {now}"
        for column, modes in seen.items()
        for mode, now in modes.items()
        if expected.get(column, {}).get(mode) != now
    ]
    assert not differences, f"Airflow {version} differs from {recorded.name}:\n" + "\n".join(
        differences
    )


def _stopping_a_cluster_leaves_no_task_process(played: dict[str, Played]) -> None:
    """The runs that never end (a task running far too long) still run when the cluster stops:
    their task processes and supervisors must end with it, not sleep on for minutes after the
    test. Their PIDs are Airflow's record, not the harness's, which is what is under test.
    Stops the clusters this module started (not the shared one), so it comes last."""
    for one in played.values():
        if one.setup.shared:
            continue
        pids = []
        for family in one.setup.families:
            dag_id = f"{family}_runs_long"
            task_pid = one.cluster.api.task_pid(dag_id, one.runs[dag_id], "slow")
            pids += [task_pid, one.cluster.supervisor_pid(task_pid)]
        tasks = [psutil.Process(pid) for pid in pids]
        one.cluster.stop()
        survivors = [
            task for task in tasks if task.is_running() and task.status() != psutil.STATUS_ZOMBIE
        ]
        assert survivors == [], f"{one.setup.name}: task processes outlived the cluster"


def test_failure_modes_under_a_real_scheduler(played: dict[str, Played]) -> None:
    """One test per Airflow version, so that one environment per version is started however
    pytest-xdist distributes the tests; each check fails with its own message."""
    _no_component_exits_and_our_hooks_never_fail(played)
    _every_other_run_is_still_scheduled(played)
    _no_event_is_duplicated(played)
    _a_failure_ended_from_outside_says_how(played)
    _limits_say_which_limit(played)
    _a_rescheduled_sensor_starts_once_per_try(played)
    _a_failed_run_names_its_failed_tasks(played)
    _what_needs_an_outside_observer_reports_no_failure(played)
    _nothing_is_left_in_a_spool(played)
    _each_mode_produces_what_was_recorded(played)
    _task_events_link_their_log(played)
    _stopping_a_cluster_leaves_no_task_process(played)
