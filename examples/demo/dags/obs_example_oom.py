"""A task the kernel's OOM killer ends: it builds an in-memory index, then gets SIGKILL, as a
task that runs out of memory on a Composer worker does (a pod eviction looks the same).

Nothing of the task runs after a SIGKILL, so no task callback reports it. This DAG's team
instrumented its tasks only (``default_args``), with no DAG-level callbacks, so nothing inside
Airflow says anything at all: the watchdog, reading Airflow's records through the REST API,
reports the failed try with why (``reason: killed (likely out of memory)``, from the try's log)
and the failed run, in one pass. (With a DAG failure callback, Airflow 3 reports the run, and
its page may go out before the watchdog adds the reason: README, The watchdog.)"""

import os
import signal
from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task

import callbacks

with DAG(
    dag_id="obs_example_oom",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["team:analytics", "example"],
    default_args=callbacks.default_args(owner="analytics", retries=0),
):

    @task
    def build_customer_index() -> None:
        index = bytearray(64 * 1024 * 1024)  # the memory it grew, before the kernel stepped in
        print(f"customer index: {len(index) >> 20} MiB allocated", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    build_customer_index()
