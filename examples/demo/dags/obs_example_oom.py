"""A task the kernel's OOM killer ends: it builds an in-memory index, then gets SIGKILL, as a
task that runs out of memory on a Composer worker does (a pod eviction looks the same).

Nothing of the task runs after a SIGKILL, so no task callback reports it: the DAG run's failure
callback says the run failed, and only the watchdog, reading the try's log through the Airflow
REST API, can say why (``reason: killed (likely out of memory)``)."""

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
    on_success_callback=callbacks.on_dag_success,
    on_failure_callback=callbacks.on_dag_failure,
):

    @task
    def build_customer_index() -> None:
        index = bytearray(64 * 1024 * 1024)  # the memory it grew, before the kernel stepped in
        print(f"customer index: {len(index) >> 20} MiB allocated", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    build_customer_index()
