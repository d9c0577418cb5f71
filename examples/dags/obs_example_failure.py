"""A broken pipeline: the payments API is down (503) and times out, and a transform fails with
an error that carries a credential, which must never reach Cloud Logging. The DAG run fails.
The DAG-level failure callback is a ``CloudLoggingNotifier``, the form that composes in a list
with Slack or PagerDuty notifiers."""

import os
import urllib.error
import urllib.request
from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task

import callbacks

SERVICE_URL = os.environ.get("OBS_EXAMPLE_SERVICE_URL", "http://127.0.0.1:8099")

with DAG(
    dag_id="obs_example_failure",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["team:analytics", "example"],
    default_args=callbacks.default_args(owner="analytics", retries=0),
    on_success_callback=callbacks.on_dag_success,
    on_failure_callback=[callbacks.CloudLoggingNotifier()],
):

    @task
    def charge_when_provider_down() -> None:
        """The provider answers 503; the task records the failed call and carries on."""
        url = f"{SERVICE_URL}/v1/charges?fail=1"
        try:
            with callbacks.track_third_party("payments-api", "create_charge", target=url):
                urllib.request.urlopen(urllib.request.Request(url, data=b"{}"), timeout=5)
        except urllib.error.HTTPError:
            pass

    @task
    def refund_times_out() -> None:
        """The provider hangs past our timeout: recorded as outcome=timeout."""
        url = f"https://refund-user:hunter2@{SERVICE_URL.removeprefix('http://')}/v1/slow?seconds=2"
        url = url.replace("https://", "http://")
        try:
            with callbacks.track_third_party("payments-api", "refund", target=url):
                urllib.request.urlopen(f"{SERVICE_URL}/v1/slow?seconds=2", timeout=0.3)
        except (TimeoutError, urllib.error.URLError):
            pass

    @task
    def transform() -> None:
        raise ValueError(
            "could not load batch 20261123 from postgres://etl:s3cr3t-pw@db.internal:5432/sales "
            "(token=abc123def456)"
        )

    charge_when_provider_down() >> refund_times_out() >> transform()
