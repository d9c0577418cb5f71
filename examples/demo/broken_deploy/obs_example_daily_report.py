"""The daily sales report's next version: it moved its logic to a ``reporting`` package that
was never installed in the environment, so the file no longer imports (the demo deploys it
over ``examples/demo/dags/obs_example_daily_report.py`` while Airflow runs)."""

from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task

from reporting.sales import daily_summary  # not installed: ModuleNotFoundError

import callbacks

with DAG(
    dag_id="obs_example_daily_report",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["team:analytics", "example"],
    default_args=callbacks.default_args(owner="analytics", retries=0),
):

    @task
    def build_report() -> str:
        return daily_summary()

    build_report()
