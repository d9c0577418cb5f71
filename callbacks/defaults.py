"""``default_args()``: the one line a DAG adds to send every task event to Cloud Logging."""

from __future__ import annotations

from typing import Any

from callbacks.lifecycle import TASK_CALLBACKS


def _merge(ours: Any, theirs: Any) -> list[Any]:
    """Keep the DAG's own callbacks alongside ours (Airflow runs a list in order)."""
    given = theirs if isinstance(theirs, (list, tuple)) else [theirs]
    return [ours, *(callback for callback in given if callback is not None and callback != ours)]


def default_args(**extra: Any) -> dict[str, Any]:
    """Task callbacks for every lifecycle event, merged with the DAG's other default_args.

    ``on_skipped_callback`` exists since Airflow 2.7; both supported lines have it. A callback
    given in ``extra`` is kept and runs after ours.

        with DAG("payments", default_args=callbacks.default_args(owner="data", retries=2)):
            ...
    """
    args = dict(extra)
    for argument, callback in TASK_CALLBACKS.items():
        args[argument] = _merge(callback, extra[argument]) if argument in extra else callback
    return args
