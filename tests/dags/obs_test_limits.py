"""Test DAG: callbacks timed as the task sees them, a megabyte failure carrying a secret.

Every callback is wrapped to append its task-visible duration to ``OBS_TEST_TIMINGS``, so a
test can check both how long callbacks took and how many events they produced.
"""

import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task

import callbacks

TIMINGS = os.environ.get("OBS_TEST_TIMINGS", os.devnull)
SECRET = "sk_live_do_not_leak_42"


def timed(callback: Callable[[Any], None]) -> Callable[[Any], None]:
    def wrapper(context: Any) -> None:
        started = time.perf_counter()
        callback(context)
        elapsed_ms = (time.perf_counter() - started) * 1000
        with open(TIMINGS, "a") as handle:
            handle.write(json.dumps({"callback": callback.__name__, "ms": elapsed_ms}) + "\n")

    wrapper.__name__ = callback.__name__
    return wrapper


with DAG(
    dag_id="obs_test_limits",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    default_args={
        key: timed(value) if callable(value) else value
        for key, value in callbacks.default_args(owner="qa", retries=0).items()
    },
    on_success_callback=timed(callbacks.on_dag_success),
    on_failure_callback=timed(callbacks.on_dag_failure),
):

    @task
    def fine() -> None:
        pass

    @task
    def huge_failure() -> None:
        raise ValueError(f"upload refused (api_key={SECRET}): " + "row data " * 120_000)

    fine() >> huge_failure()
