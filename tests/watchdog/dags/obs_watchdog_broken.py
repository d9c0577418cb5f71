"""A DAG file that does not import: the watchdog's import error case."""

from airflow_does_not_have_this_module import Operator  # noqa: F401
