"""A healthy pipeline: a task that succeeds, one that fails once then succeeds on retry, one
that skips itself, and a successful call to the payments API. Every task is instrumented by
``callbacks.default_args()``; the DAG run's outcome by the DAG-level callbacks."""

import os
import urllib.request
from datetime import datetime, timedelta
from typing import Any

try:  # Airflow 3
    from airflow.sdk import DAG, task
    from airflow.sdk.exceptions import AirflowSkipException
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task
    from airflow.exceptions import AirflowSkipException

import callbacks

SERVICE_URL = os.environ.get("OBS_EXAMPLE_SERVICE_URL", "http://127.0.0.1:8099")

with DAG(
    dag_id="obs_example_success",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["team:payments", "example"],
    default_args=callbacks.default_args(
        owner="data-eng", retries=1, retry_delay=timedelta(seconds=1)
    ),
    on_success_callback=callbacks.on_dag_success,
    on_failure_callback=callbacks.on_dag_failure,
    params={"composer_obs_labels": {"cost_center": "cc-42"}},
):

    @task
    def extract() -> int:
        return 42

    @task
    def load_with_retry(**context: Any) -> None:
        """Fails on its first try (a flaky warehouse), succeeds on the retry."""
        if context["ti"].try_number <= 1:
            raise ConnectionError("warehouse connection reset by peer (attempt 1)")

    @task
    def maybe_skip() -> None:
        raise AirflowSkipException("nothing new upstream today")

    @task
    def charge_customer() -> int:
        url = f"{SERVICE_URL}/v1/charges"
        with callbacks.track_third_party("payments-api", "create_charge", target=url) as call:
            request = urllib.request.Request(url, data=b"{}", method="POST")
            with urllib.request.urlopen(request, timeout=5) as response:
                call.status_code = response.status
        return call.status_code

    extract() >> load_with_retry() >> [maybe_skip(), charge_customer()]
