"""One DAG per failure mode, for the real-scheduler tests (tests/scheduler/test_failure_modes.py).

Each mode exists three times: ``cb_<mode>`` carries our callbacks (``default_args`` and the
DAG's success and failure callbacks); ``pl_<mode>`` and ``ns_<mode>`` carry none, so that only
the listener plugin can report them (``ns``: the plugin everywhere but in the scheduler, see
``tests/scheduler/plugins/``). ``OBS_FAILURE_MODE_FAMILIES`` (``cb,pl,ns`` by default) says
which families this environment gets. Tasks that wait for the test to act on them (kill, mark
failed) sleep.
"""

import os
import signal
import time
from datetime import datetime, timedelta
from typing import Any

try:  # Airflow 3
    from airflow.providers.standard.sensors.python import PythonSensor
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task
    from airflow.sensors.python import PythonSensor

import callbacks

FAMILIES = os.environ.get("OBS_FAILURE_MODE_FAMILIES", "cb,pl,ns").split(",")
NO_SLOT_POOL = "obs_no_slot"
SENSOR_CASES = (("poke", False), ("reschedule", False), ("poke", True), ("reschedule", True))
"""A pool the test creates with 0 slots: a task in it is never started."""


def _dag(family: str, mode: str, **kwargs: Any) -> DAG:
    ours = family == "cb"
    args = {"owner": "sched-test", "retries": 0}
    return DAG(
        dag_id=f"{family}_{mode}",
        start_date=datetime(2026, 1, 1),
        schedule=None,
        catchup=False,
        default_args=callbacks.default_args(**args) if ours else args,
        on_success_callback=callbacks.on_dag_success if ours else None,
        on_failure_callback=callbacks.on_dag_failure if ours else None,
        **kwargs,
    )


def _never() -> bool:
    return False


@task
def fail() -> None:
    raise ValueError("the data is wrong")


@task
def after() -> None:
    pass


@task
def die() -> None:
    """What the kernel's OOM killer does to a task."""
    os.kill(os.getpid(), signal.SIGKILL)


WORKING = "obs-failure-modes: working"
"""Printed to the task log once the task's own code runs: the test acts only after it."""


@task
def work() -> None:
    """Runs until the test kills it or marks it failed."""
    print(WORKING, flush=True)
    time.sleep(600)


@task
def ok() -> None:
    pass


for family in FAMILIES:
    with _dag(family, "exception"):
        fail()

    with _dag(family, "self_sigkill"):
        die()

    with _dag(family, "kill9"):
        work()

    with _dag(family, "heartbeat"):
        work()

    with _dag(family, "execution_timeout"):
        work.override(task_id="slow", execution_timeout=timedelta(seconds=3))()

    with _dag(family, "sensors"):
        for mode, soft_fail in SENSOR_CASES:
            PythonSensor(
                task_id=f"{mode}_soft" if soft_fail else mode,
                python_callable=_never,
                mode=mode,
                # Rescheduled pokes far apart: under load, Airflow 3.3 can take seconds to
                # see a poke's process end, and fails a sensor queued again before it does.
                poke_interval=1 if mode == "poke" else 30,
                timeout=4 if mode == "poke" else 45,
                soft_fail=soft_fail,
            )

    with _dag(family, "upstream_failed"):
        fail() >> after()

    # Long enough for the task to start on a loaded machine: a 15 s timeout sometimes ended
    # the run before Airflow 3.3 started it, and with three families at once (load average
    # 60) 40 s did on 2.10, so task_started came or not by chance. 80 s ends the run within
    # the time the heartbeat mode takes anyway (60 s without a heartbeat after the kill).
    with _dag(family, "dagrun_timeout", dagrun_timeout=timedelta(seconds=80)):
        work.override(task_id="slow")()

    with _dag(family, "marked_task_failed"):
        work()

    with _dag(family, "marked_run_failed"):
        work()

    with _dag(family, "no_pool_slot"):
        ok.override(task_id="starved", pool=NO_SLOT_POOL)()

    with _dag(family, "runs_long"):
        work.override(task_id="slow")()

    with _dag(family, "healthy"):
        ok()
