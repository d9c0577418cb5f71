"""What a task event says about why the task ended (callbacks.failures), from everything
Airflow 2.10 and 3.x hand a failure callback or listener."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from callbacks import failures
from callbacks.failures import TaskKilled, explain

ZOMBIE_2_10 = (
    "{'DAG Id': 'payments', 'Task Id': 'load', 'Run Id': 'scheduled__2026-01-01T00:00:00+00:00',"
    " 'Hostname': 'worker-1', 'External Executor Id': None}"
)
MISMATCH = (
    "Executor LocalExecutor(parallelism=32) reported that the task instance <TaskInstance: "
    "payments.load manual__1 [queued]> finished with state failed, but the task instance's "
    "state attribute is queued. Learn more: https://airflow.apache.org/docs/"
)
MARKED_3 = "TaskInstance's state was manually set to `failed`."


def _named(name: str) -> type[Exception]:
    return type(name, (Exception,), {})


def test_a_lost_heartbeat_on_airflow_2_10_says_so_in_words_not_a_dict_of_ids() -> None:
    reason, exception = explain("task_failed", ZOMBIE_2_10, "running")
    assert reason == failures.NO_HEARTBEAT
    assert isinstance(exception, TaskKilled)
    assert "stopped sending heartbeats" in str(exception)
    assert "worker-1" in str(exception) and "{" not in str(exception)


def test_messages_of_airflow_3_and_its_executor() -> None:
    assert explain("task_failed", MARKED_3, "failed")[0] == failures.MARKED_FAILED
    assert explain("task_failed", MISMATCH, "queued")[0] == failures.KILLED_EXTERNALLY


def test_a_dag_processor_callback_without_exception_is_read_from_the_state() -> None:
    assert explain("task_failed", None, "running")[0] == failures.NO_HEARTBEAT
    assert explain("task_failed", None, "queued")[0] == failures.KILLED_EXTERNALLY
    assert explain("task_failed", None, "failed")[0] == failures.KILLED_EXTERNALLY
    assert explain("task_skipped", None, "skipped") == (None, None)


def test_timeouts_and_soft_fail() -> None:
    timeout = _named("AirflowTaskTimeout")("Timeout, PID: 12")
    assert explain("task_failed", timeout, "failed") == (failures.TIMED_OUT, timeout)
    sensor = _named("AirflowSensorTimeout")("Sensor has timed out")
    assert explain("task_failed", sensor, "failed")[0] == failures.SENSOR_TIMED_OUT
    skip = _named("AirflowSkipException")("Sensor has timed out; run duration of 4.2 seconds")
    assert explain("task_skipped", skip, "skipped")[0] == "sensor timed out (soft_fail)"


def test_an_ordinary_exception_needs_no_reason() -> None:
    error = ValueError("the data is wrong")
    assert explain("task_failed", error, "failed") == (None, error)


@given(
    st.sampled_from(["task_failed", "task_up_for_retry", "task_skipped"]),
    st.one_of(
        st.none(),
        st.text(),
        st.text().map(lambda text: "{'DAG Id': " + text),
        st.builds(ValueError, st.text()),
        st.dictionaries(st.text(), st.text()),
    ),
    st.one_of(st.none(), st.sampled_from(["running", "queued", "failed", "skipped"])),
)
def test_never_raises_whatever_airflow_passes(event_type: str, error: Any, state: Any) -> None:
    reason, _ = explain(event_type, error, state)
    assert reason is None or reason.split(" (")[0] in failures.REASONS
