"""`import callbacks` in a process without Airflow: it works, and loads nothing heavy."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import callbacks
from callbacks.lifecycle import is_ours

PROBE = """
import sys, time
started = time.perf_counter()
import callbacks
elapsed_ms = (time.perf_counter() - started) * 1000
heavy = sorted({name.split('.')[0] + '.' + name.split('.')[1] if name.startswith('google.')
                else name.split('.')[0] for name in sys.modules
                if name.startswith(('airflow', 'google.cloud', 'grpc', 'pydantic'))})
print(heavy)
"""


def test_this_environment_really_has_no_airflow() -> None:
    assert importlib.util.find_spec("airflow") is None


def test_import_loads_neither_airflow_nor_google_clients_nor_pydantic() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_default_args_installs_every_task_callback_and_keeps_the_dags_own() -> None:
    def page_the_team(context: object) -> None:
        del context

    args = callbacks.default_args(owner="data", retries=2, on_failure_callback=page_the_team)
    assert args["owner"] == "data" and args["retries"] == 2
    assert args["on_failure_callback"] == [callbacks.on_failure, page_the_team]
    for argument in (
        "on_execute_callback",
        "on_success_callback",
        "on_retry_callback",
        "on_skipped_callback",
    ):
        assert is_ours(args[argument])
    assert not is_ours(page_the_team)


def test_the_notifier_needs_airflow_and_says_so() -> None:
    try:
        callbacks.CloudLoggingNotifier  # noqa: B018 - the attribute access is the test
    except ImportError as exc:
        assert "airflow" in str(exc)
    else:
        raise AssertionError("CloudLoggingNotifier imported without Airflow")
