"""Airflow callbacks that write structured events to Cloud Logging.

    import callbacks

    with DAG(..., default_args=callbacks.default_args(owner="data"),
             on_success_callback=callbacks.on_dag_success,
             on_failure_callback=callbacks.on_dag_failure):
        ...

Importing this package imports neither Airflow, pydantic nor the Google clients: it costs a
DAG file about 25 ms. The first callback of a process loads the event schema (pydantic, which
Airflow has already loaded); settings and the Google clients load in the background writer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from callbacks.defaults import default_args
from callbacks.lifecycle import (
    on_dag_failure,
    on_dag_success,
    on_execute,
    on_failure,
    on_retry,
    on_skipped,
    on_success,
)
from callbacks.third_party import track_third_party

if TYPE_CHECKING:
    from callbacks.notifier import CloudLoggingNotifier


def __getattr__(name: str) -> Any:
    """``CloudLoggingNotifier`` subclasses Airflow's BaseNotifier, so it loads on first use."""
    if name == "CloudLoggingNotifier":
        from callbacks.notifier import CloudLoggingNotifier

        return CloudLoggingNotifier
    raise AttributeError(f"module 'callbacks' has no attribute {name!r}")


def flush(timeout: float | None = None) -> bool:
    """Deliver (or spool) every queued event now; for scripts that end without exiting."""
    from observability.emit import flush as _flush

    return _flush(timeout)


__all__ = [
    "CloudLoggingNotifier",
    "default_args",
    "flush",
    "on_dag_failure",
    "on_dag_success",
    "on_execute",
    "on_failure",
    "on_retry",
    "on_skipped",
    "on_success",
    "track_third_party",
]
