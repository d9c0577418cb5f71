"""Fields read off an Airflow-shaped context, as users know them."""

from __future__ import annotations

from types import SimpleNamespace

from callbacks.context import task_event


def test_a_decorated_task_s_operator_is_named_as_written() -> None:
    """``@task`` functions run as a private ``_PythonDecoratedOperator``; Airflow's own UI
    shows ``@task`` (``custom_operator_name``), and so do the events."""
    task = SimpleNamespace(
        task_id="load", task_type="_PythonDecoratedOperator", custom_operator_name="@task"
    )
    ti = SimpleNamespace(
        dag_id="d", task_id="load", run_id="r", try_number=1, operator="_PythonDecoratedOperator"
    )
    fields = task_event("task_started", {"ti": ti, "task_instance": ti, "task": task})
    assert fields is not None and fields["operator"] == "@task"
    plain = SimpleNamespace(task_id="load", task_type="BashOperator")
    ti.operator = None
    fields = task_event("task_started", {"ti": ti, "task_instance": ti, "task": plain})
    assert fields is not None and fields["operator"] == "BashOperator"
