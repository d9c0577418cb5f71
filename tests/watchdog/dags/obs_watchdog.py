"""DAGs whose failures no callback reports, for the watchdog's tests (tests/watchdog/).

None carries our callbacks: what the watchdog finds must come from Airflow's own records.
Tasks that wait for the test to act on them (kill, mark failed) sleep.
"""

import os
import signal
import time
from datetime import datetime, timedelta
from typing import Any

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task

NO_SLOT_POOL = "wd_no_slot"
"""A pool the test creates with 0 slots: a task in it is never started."""


def _dag(dag_id: str, **kwargs: Any) -> DAG:
    kwargs.setdefault("tags", ["team:data"])
    kwargs.setdefault("default_args", {"owner": "wd-test", "retries": 0})
    return DAG(
        dag_id=dag_id, start_date=datetime(2026, 1, 1), schedule=None, catchup=False, **kwargs
    )


@task
def fail() -> None:
    raise ValueError("the data is wrong")


@task
def die() -> None:
    """What the kernel's OOM killer does to a task."""
    os.kill(os.getpid(), signal.SIGKILL)


@task
def work() -> None:
    """Runs until the test kills it or marks it failed."""
    time.sleep(600)


@task
def quick() -> None:
    time.sleep(1)


with _dag("wd_sigkill"):
    die()

with _dag("wd_exception"):
    fail()

with _dag("wd_marked"):
    work()

with _dag("wd_run_marked"):
    work()

with _dag("wd_stuck"):
    quick.override(pool=NO_SLOT_POOL)()

with _dag("wd_long", tags=["team:data", "max_task_duration:20s"]):
    work()

with _dag("wd_run_timeout", dagrun_timeout=timedelta(seconds=15)):
    work()

with _dag("wd_autopause", max_consecutive_failed_dag_runs=2, tags=["team:data", "critical"]):
    fail()

with _dag("wd_history"):
    quick()

# A failure our callbacks report: the watchdog must leave it alone.
try:
    import callbacks

    with _dag(
        "wd_reported",
        default_args=callbacks.default_args(owner="wd-test", retries=0),
        on_failure_callback=callbacks.on_dag_failure,
    ):
        fail()
except ImportError:  # the package is not installed in this Airflow
    pass
