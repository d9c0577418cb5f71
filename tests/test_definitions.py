"""What a failure callback reads on the task's thread (callbacks.definitions, callbacks.context):
the task instance's attributes once each, the task's and DAG's definitions once per object.
Counted reads, not a clock: bench/callback_overhead.py measures the time."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from callbacks import attempts, definitions
from callbacks.context import task_event


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """No try remembered from another test (each test's tries are new to this process)."""
    monkeypatch.setattr(attempts, "_outcomes", type(attempts._outcomes)())
    monkeypatch.setattr(attempts, "_started", type(attempts._started)())


class Counted:
    """An Airflow object stand-in that counts every attribute read (dunders aside)."""

    def __init__(self, **attributes: Any) -> None:
        object.__setattr__(self, "_attributes", attributes)
        object.__setattr__(self, "reads", Counter())

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("__") or name in ("reads", "_attributes"):
            return object.__getattribute__(self, name)
        object.__getattribute__(self, "reads")[name] += 1
        attributes = object.__getattribute__(self, "_attributes")
        if name in attributes:
            return attributes[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__getattribute__(self, "_attributes")[name] = value


STARTED = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)


def _objects(owner: str = "data-eng", team_tag: str = "team:payments") -> tuple[Any, Any, Any]:
    dag = Counted(dag_id="payments_daily", tags=[team_tag], owner=owner)
    task = Counted(task_id="charge", owner=owner, task_type="PythonOperator", retries=2, dag=dag)
    ti = Counted(
        dag_id="payments_daily",
        task_id="charge",
        run_id="scheduled__2026-12-07",
        map_index=-1,
        try_number=1,
        state="failed",
        start_date=STARTED,
        end_date=STARTED + timedelta(seconds=4),
        duration=4.0,
        hostname="worker-1",
        log_url="https://composer.example/log",
        task=task,
    )
    return dag, task, ti


def _failed(ti: Any, task: Any, dag: Any) -> dict[str, Any]:
    context = {"ti": ti, "task_instance": ti, "task": task, "dag": dag, "params": {}}
    fields = task_event("task_failed", {**context, "exception": ValueError("bad row")})
    assert fields is not None
    return fields


def test_a_failure_reads_each_attribute_once_and_the_definition_once_per_task() -> None:
    dag, task, ti = _objects()
    first = _failed(ti, task, dag)
    assert first["team"] == "payments" and first["owner"] == "data-eng"
    assert first["operator"] == "PythonOperator" and first["max_tries"] == 2
    assert max(ti.reads.values()) == 1, ti.reads  # no attribute of the task instance twice
    assert task.reads and dag.reads
    task.reads.clear(), dag.reads.clear(), ti.reads.clear()
    ti.try_number = 2  # the next try of the same task, in the same process
    second = _failed(ti, task, dag)
    assert second["try_number"] == 2 and second["team"] == "payments"
    assert not task.reads and not dag.reads, (task.reads, dag.reads)
    assert max(ti.reads.values()) == 1, ti.reads


def test_a_dag_parsed_again_is_read_afresh() -> None:
    """A new parse makes new objects: an edited owner or team tag shows at the next event."""
    dag, task, ti = _objects()
    assert _failed(ti, task, dag)["team"] == "payments"
    dag, task, ti = _objects(owner="ml", team_tag="team:ml")
    ti.run_id = "scheduled__2026-12-08"  # the next run
    fields = _failed(ti, task, dag)
    assert fields["team"] == "ml" and fields["owner"] == "ml"


def test_the_kept_definitions_are_bounded() -> None:
    for _ in range(definitions.MAX_KEPT + 10):
        dag, task, _ti = _objects()
        definitions.definition_of(task, dag)
    assert len(definitions._kept) <= definitions.MAX_KEPT
