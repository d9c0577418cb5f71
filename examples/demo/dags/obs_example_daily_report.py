"""The daily sales report, as deployed yesterday: it imports and runs.

The demo then deploys its next version (``examples/demo/broken_deploy/``), which imports a
module the environment does not have. Airflow records an import error and stops scheduling the
DAG, and nothing inside Airflow reports it: the watchdog reads the import error through the
REST API, and the team the DAG's tag names gets paged."""

from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task

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
        return "sales: 1,204 orders"

    build_report()
