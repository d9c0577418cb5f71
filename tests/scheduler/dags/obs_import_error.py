"""A DAG file that fails to import: Airflow records an import error and schedules nothing."""

from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.10
    from airflow import DAG

import obs_module_that_does_not_exist  # noqa: F401

with DAG(dag_id="obs_import_error", start_date=datetime(2026, 1, 1), schedule=None):
    pass
