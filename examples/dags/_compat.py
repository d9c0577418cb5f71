"""Imports that moved between Airflow 2.10 and 3.x, so the example DAGs run on both."""

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG  # type: ignore[no-redef]
    from airflow.decorators import task  # type: ignore[no-redef]

from airflow.exceptions import AirflowSkipException

__all__ = ["DAG", "AirflowSkipException", "task"]
