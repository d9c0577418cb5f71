"""Test DAG with no callbacks of ours: only the listener plugin can report its tasks. A second
DAG carries our callbacks too, to show the listener never doubles their events."""

from datetime import datetime, timedelta
from typing import Any

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task

import callbacks

with DAG(
    dag_id="obs_test_listener",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(seconds=1)},
):

    @task
    def plain() -> None:
        pass

    @task
    def flaky(**context: Any) -> None:
        if context["ti"].try_number <= 1:
            raise RuntimeError("first try fails")

    @task
    def broken() -> None:
        raise ValueError("always fails")

    plain() >> flaky() >> broken()

with DAG(
    dag_id="obs_test_listener_and_callbacks",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    default_args=callbacks.default_args(owner="platform"),
):

    @task
    def instrumented() -> None:
        pass

    instrumented()
